//! Accounts and mailboxes shared by the SMTP and POP3 servers of one world.
//!
//! Mail accepted by SMTP for a local address lands here and is what POP3
//! lists. The store is shared behind [`SharedStore`]; every operation is a short
//! critical section, so a plain mutex is enough.
//!
//! A store can also keep a journal of every message the SMTP server accepted,
//! with its envelope ([`Received`]): what a test reads back, whether the
//! recipient has a mailbox or not.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

/// A store shared between servers.
#[derive(Debug, Clone, Default)]
pub struct SharedStore(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    store: Mutex<MailStore>,
    /// How many messages the journal holds, for those waiting on it.
    journaled: watch::Sender<usize>,
}

impl SharedStore {
    /// Wraps a store for sharing.
    pub fn new(store: MailStore) -> Self {
        SharedStore(Arc::new(Shared {
            journaled: watch::Sender::new(store.received.as_ref().map_or(0, Vec::len)),
            store: Mutex::new(store),
        }))
    }

    /// Locks the store. A panic elsewhere cannot leave it half-written, so a
    /// poisoned lock is taken over rather than propagated.
    pub fn lock(&self) -> MutexGuard<'_, MailStore> {
        self.0
            .store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds an accepted message to the journal (if the store keeps one) and
    /// wakes those waiting for it.
    pub fn journal(&self, received: Received) {
        let count = {
            let mut store = self.lock();
            match store.received.as_mut() {
                Some(journal) => {
                    journal.push(received);
                    journal.len()
                }
                None => return,
            }
        };
        self.0.journaled.send_replace(count);
    }

    /// Every message accepted so far, oldest first (empty without a journal).
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone().unwrap_or_default()
    }

    /// Waits until at least `count` messages were accepted, at most `timeout`
    /// (in the runtime's time: virtual under paused time), and returns them all.
    pub async fn wait_for(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<Received>, WaitTimedOut> {
        let mut journaled = self.0.journaled.subscribe();
        let arrived = tokio::time::timeout(timeout, journaled.wait_for(|n| *n >= count)).await;
        match arrived {
            Ok(Ok(_)) => Ok(self.received()),
            // The sender lives in `self`: it cannot be gone while we wait.
            Ok(Err(_)) | Err(_) => Err(WaitTimedOut {
                wanted: count,
                arrived: self.received(),
                timeout,
            }),
        }
    }
}

/// A message the SMTP server accepted, with its envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The reverse path of `MAIL FROM` (empty for the null sender `<>`).
    pub from: String,
    /// Every accepted `RCPT TO`, in order.
    pub to: Vec<String>,
    /// The login that sent it, if the client authenticated.
    pub login: Option<String>,
    /// The message as received: CRLF line endings, dots unstuffed, without
    /// the final dot.
    pub content: Vec<u8>,
}

impl Received {
    /// The message as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.content).into_owned()
    }

    /// The value of the first header field `name` (case-insensitive),
    /// unfolded, if the message has one.
    pub fn header(&self, name: &str) -> Option<String> {
        let text = self.text();
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            match value.as_mut() {
                Some(v) if line.starts_with([' ', '\t']) => v.push_str(line),
                Some(_) => break,
                None => {
                    if let Some((field, rest)) = line.split_once(':') {
                        if field.eq_ignore_ascii_case(name) {
                            value = Some(rest.trim_start().to_string());
                        }
                    }
                }
            }
        }
        value.map(|v| v.trim_end().to_string())
    }
}

/// [`SharedStore::wait_for`] gave up.
#[derive(Debug, Clone, thiserror::Error)]
#[error("waited {timeout:?} for {wanted} message(s); {} arrived", arrived.len())]
pub struct WaitTimedOut {
    /// How many messages were waited for.
    pub wanted: usize,
    /// The messages that did arrive.
    pub arrived: Vec<Received>,
    /// How long it waited.
    pub timeout: Duration,
}

/// One mail account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The login name.
    pub user: String,
    /// The password, compared exactly.
    pub password: String,
    /// The account's mail address, e.g. `taro@other.example`.
    pub address: String,
}

impl Account {
    /// The domain part of the address, lowercased.
    pub fn domain(&self) -> String {
        domain_of(&self.address)
    }
}

/// The domain part of an address (`a@B.example` → `b.example`).
pub fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, domain)| domain)
        .unwrap_or("")
        .trim_end_matches('>')
        .to_ascii_lowercase()
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// A unique id that stays with the message (POP3 UIDL).
    pub uid: String,
    /// The message as received, CRLF line endings, without the final dot.
    pub content: Vec<u8>,
}

#[derive(Debug, Default)]
struct Mailbox {
    account: Option<Account>,
    messages: Vec<Message>,
    locked: bool,
    /// When a session last logged in to the maildrop (the caller's clock).
    last_login: Option<tokio::time::Instant>,
    /// Sessions the user's other clients hold open (a phone, a second PC).
    held_sessions: u32,
}

/// How many bytes of messages a store keeps by default, all mailboxes
/// together: a long-running `serve` stays bounded in memory.
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;

/// The store is full: the message was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the mail store is full ({used} of {limit} bytes used)")]
pub struct StoreFull {
    /// Bytes held now.
    pub used: usize,
    /// The store's limit.
    pub limit: usize,
}

/// All accounts and mailboxes of a world.
#[derive(Debug)]
pub struct MailStore {
    mailboxes: BTreeMap<String, Mailbox>,
    next_uid: u64,
    bytes: usize,
    max_bytes: usize,
    /// Every accepted message with its envelope, when kept.
    received: Option<Vec<Received>>,
    /// When a POP3 session last logged in (the caller's clock): what a
    /// POP-before-SMTP server checks. A world has one client address.
    last_pop3_login: Option<tokio::time::Instant>,
    /// When logins failed, by the server that refused them (its log, as
    /// fail2ban reads it), the latest [`MAX_FAILED_LOGINS`] of each.
    failed_logins: BTreeMap<String, std::collections::VecDeque<tokio::time::Instant>>,
}

/// How many failed logins a store remembers per server.
pub const MAX_FAILED_LOGINS: usize = 100;

impl Default for MailStore {
    fn default() -> Self {
        MailStore {
            mailboxes: BTreeMap::new(),
            next_uid: 0,
            bytes: 0,
            max_bytes: DEFAULT_MAX_BYTES,
            last_pop3_login: None,
            failed_logins: BTreeMap::new(),
            received: None,
        }
    }
}

impl MailStore {
    /// An empty store holding at most [`DEFAULT_MAX_BYTES`].
    pub fn new() -> Self {
        MailStore::default()
    }

    /// An empty store holding at most `max_bytes` of messages.
    pub fn with_limit(max_bytes: usize) -> Self {
        MailStore {
            max_bytes,
            ..MailStore::default()
        }
    }

    /// Keeps a journal of every accepted message with its envelope
    /// ([`SharedStore::received`]). Its messages count against the limit.
    pub fn keeping_journal(mut self) -> Self {
        self.received.get_or_insert_with(Vec::new);
        self
    }

    /// Whether the store keeps a journal of accepted messages.
    pub fn keeps_journal(&self) -> bool {
        self.received.is_some()
    }

    /// Counts `size` bytes of journal against the limit, unless full.
    pub fn reserve(&mut self, size: usize) -> Result<(), StoreFull> {
        if !self.has_room_for(size) {
            return Err(StoreFull {
                used: self.bytes,
                limit: self.max_bytes,
            });
        }
        self.bytes += size;
        Ok(())
    }

    /// Whether `size` more bytes fit.
    pub fn has_room_for(&self, size: usize) -> bool {
        self.bytes.saturating_add(size) <= self.max_bytes
    }

    /// Adds an account with an empty mailbox.
    pub fn add_account(&mut self, account: Account) {
        let key = account.user.clone();
        self.mailboxes.entry(key).or_default().account = Some(account);
    }

    /// The account for a login name.
    pub fn account(&self, user: &str) -> Option<&Account> {
        self.mailboxes.get(user)?.account.as_ref()
    }

    /// The account whose address is `address` (case-insensitive).
    pub fn account_by_address(&self, address: &str) -> Option<&Account> {
        self.mailboxes
            .values()
            .filter_map(|mailbox| mailbox.account.as_ref())
            .find(|account| account.address.eq_ignore_ascii_case(address))
    }

    /// Checks a login. `domains` limits which accounts a server serves; empty
    /// means every account.
    pub fn authenticate(&self, user: &str, password: &str, domains: &[String]) -> bool {
        self.account(user).is_some_and(|account| {
            account.password == password && serves(domains, &account.domain())
        })
    }

    /// [`MailStore::authenticate`] for a login to `server`, noting a refused
    /// one in that server's log.
    pub fn log_in(&mut self, server: &str, user: &str, password: &str, domains: &[String]) -> bool {
        let accepted = self.authenticate(user, password, domains);
        if !accepted {
            let log = self.failed_logins.entry(server.to_string()).or_default();
            if log.len() >= MAX_FAILED_LOGINS {
                log.pop_front();
            }
            log.push_back(tokio::time::Instant::now());
        }
        accepted
    }

    /// When logins to `server` failed, oldest first.
    pub fn failed_logins(&self, server: &str) -> impl Iterator<Item = tokio::time::Instant> + '_ {
        self.failed_logins
            .get(server)
            .into_iter()
            .flatten()
            .copied()
    }

    /// Appends a message to the mailbox of `user`, unless the store is full.
    pub fn deliver(&mut self, user: &str, content: Vec<u8>) -> Result<(), StoreFull> {
        self.reserve(content.len())?;
        self.next_uid += 1;
        let uid = format!("mp{:08}", self.next_uid);
        self.mailboxes
            .entry(user.to_string())
            .or_default()
            .messages
            .push(Message { uid, content });
        Ok(())
    }

    /// The messages of `user`, oldest first.
    pub fn messages(&self, user: &str) -> &[Message] {
        self.mailboxes
            .get(user)
            .map(|mailbox| mailbox.messages.as_slice())
            .unwrap_or(&[])
    }

    /// Takes the maildrop lock of RFC 1939 section 8. Returns false if held.
    pub fn lock_mailbox(&mut self, user: &str) -> bool {
        let mailbox = self.mailboxes.entry(user.to_string()).or_default();
        !std::mem::replace(&mut mailbox.locked, true)
    }

    /// Notes a POP3 login from the client's address at `now`.
    pub fn note_pop3_login(&mut self, now: tokio::time::Instant) {
        self.last_pop3_login = Some(now);
    }

    /// Whether the client's address logged in over POP3 within `window`
    /// before `now` (POP-before-SMTP).
    pub fn pop3_login_within(
        &self,
        window: std::time::Duration,
        now: tokio::time::Instant,
    ) -> bool {
        self.last_pop3_login
            .is_some_and(|at| now.saturating_duration_since(at) <= window)
    }

    /// Notes that `user`'s other clients hold `sessions` sessions open.
    pub fn hold_sessions(&mut self, user: &str, sessions: u32) {
        self.mailboxes
            .entry(user.to_string())
            .or_default()
            .held_sessions = sessions;
    }

    /// Refuses one more session of `user` when the sessions its other
    /// clients hold already reach `limit` (sessions per user and address, as
    /// Dovecot's `mail_max_userip_connections` counts them): the refusal in
    /// Dovecot's words.
    pub fn over_session_limit(&self, user: &str, limit: Option<u32>) -> Option<String> {
        let limit = limit?;
        let held = self.mailboxes.get(user).map_or(0, |m| m.held_sessions);
        (held >= limit).then(|| {
            format!(
                "Maximum number of connections from user+IP exceeded (mail_max_userip_connections={limit})"
            )
        })
    }

    /// Notes a login to `user`'s maildrop at `now`, unless the last was less
    /// than `interval` before: then how long ago that was, and nothing is
    /// noted (RFC 2449 LOGIN-DELAY).
    pub fn note_login(
        &mut self,
        user: &str,
        now: tokio::time::Instant,
        interval: std::time::Duration,
    ) -> Result<(), std::time::Duration> {
        let mailbox = self.mailboxes.entry(user.to_string()).or_default();
        if let Some(last) = mailbox.last_login {
            let since = now.saturating_duration_since(last);
            if since < interval {
                return Err(since);
            }
        }
        mailbox.last_login = Some(now);
        Ok(())
    }

    /// Whether a session holds the maildrop lock of `user`.
    pub fn is_locked(&self, user: &str) -> bool {
        self.mailboxes
            .get(user)
            .is_some_and(|mailbox| mailbox.locked)
    }

    /// Releases the maildrop lock.
    pub fn unlock_mailbox(&mut self, user: &str) {
        if let Some(mailbox) = self.mailboxes.get_mut(user) {
            mailbox.locked = false;
        }
    }

    /// Removes the messages with the given uids (the POP3 update state).
    pub fn remove(&mut self, user: &str, uids: &[String]) {
        if let Some(mailbox) = self.mailboxes.get_mut(user) {
            let mut freed = 0usize;
            mailbox.messages.retain(|message| {
                let keep = !uids.contains(&message.uid);
                if !keep {
                    freed += message.content.len();
                }
                keep
            });
            self.bytes = self.bytes.saturating_sub(freed);
        }
    }
}

/// Whether a server that serves `domains` serves `domain` (empty: all).
pub fn serves(domains: &[String], domain: &str) -> bool {
    domains.is_empty() || domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> MailStore {
        let mut store = MailStore::new();
        store.add_account(Account {
            user: "taro".into(),
            password: "hunter2".into(),
            address: "taro@other.example".into(),
        });
        store
    }

    #[test]
    fn authenticates_only_matching_password_and_domain() {
        let store = store();
        assert!(store.authenticate("taro", "hunter2", &[]));
        assert!(store.authenticate("taro", "hunter2", &["Other.Example".into()]));
        assert!(!store.authenticate("taro", "hunter3", &[]));
        assert!(!store.authenticate("taro", "hunter2", &["isp.example".into()]));
        assert!(!store.authenticate("jiro", "hunter2", &[]));
    }

    #[test]
    fn delivered_messages_get_distinct_uids_and_can_be_removed() {
        let mut store = store();
        store.deliver("taro", b"one".to_vec()).unwrap();
        store.deliver("taro", b"two".to_vec()).unwrap();
        let uids: Vec<String> = store
            .messages("taro")
            .iter()
            .map(|m| m.uid.clone())
            .collect();
        assert_ne!(uids[0], uids[1]);
        store.remove("taro", &uids[..1]);
        assert_eq!(store.messages("taro")[0].content, b"two");
    }

    #[test]
    fn a_full_store_refuses_and_frees_room_on_removal() {
        let mut store = MailStore::with_limit(10);
        store.deliver("taro", b"123456".to_vec()).unwrap();
        let full = store.deliver("taro", b"12345".to_vec()).unwrap_err();
        assert_eq!((full.used, full.limit), (6, 10));
        let uid = store.messages("taro")[0].uid.clone();
        store.remove("taro", &[uid]);
        store.deliver("taro", b"12345".to_vec()).unwrap();
    }

    #[test]
    fn logins_closer_than_the_delay_are_refused_and_not_noted() {
        use std::time::Duration;
        let mut store = store();
        let start = tokio::time::Instant::now();
        let delay = Duration::from_secs(900);
        assert_eq!(store.note_login("taro", start, delay), Ok(()));
        let soon = start + Duration::from_secs(60);
        assert_eq!(
            store.note_login("taro", soon, delay),
            Err(Duration::from_secs(60))
        );
        // The refused login did not restart the wait.
        let later = start + delay;
        assert_eq!(store.note_login("taro", later, delay), Ok(()));
        assert_eq!(store.note_login("hanako", soon, delay), Ok(()));
    }

    #[test]
    fn mailbox_lock_is_exclusive() {
        let mut store = store();
        assert!(store.lock_mailbox("taro"));
        assert!(!store.lock_mailbox("taro"));
        store.unlock_mailbox("taro");
        assert!(store.lock_mailbox("taro"));
    }
}
