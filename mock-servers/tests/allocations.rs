//! The servers' hot path allocates per command or per message, never per
//! line: message text into SMTP's reused buffer, a RETR of any length in
//! one buffer. Counted by an allocator that tallies this thread's calls.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use mock_mail_servers::line::{LineBuffer, LineRef};
use mock_mail_servers::mailstore::{Account, MailStore, SharedStore};
use mock_mail_servers::pop3::session::Pop3Session;
use mock_mail_servers::pop3::Pop3Config;
use mock_mail_servers::serve::LineSession;
use mock_mail_servers::smtp::session::SmtpSession;
use mock_mail_servers::smtp::{RelayPolicy, SmtpConfig};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to the system allocator unchanged; the
// count is a thread-local cell without a destructor.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get().wrapping_add(1)));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get().wrapping_add(1)));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Allocations this thread makes while `work` runs.
fn allocations(work: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    work();
    ALLOCATIONS.with(Cell::get).wrapping_sub(before)
}

/// Frames `bytes` and answers each line as the server's loop does: every
/// reply appended to one buffer.
fn feed(session: &mut impl LineSession, lines: &mut LineBuffer, bytes: &[u8], out: &mut Vec<u8>) {
    lines.ingest(bytes);
    lines.set_max_line(session.max_line());
    while let Some(line) = lines.next_line_ref() {
        let _ = session.handle(line, out);
        lines.set_max_line(session.max_line());
    }
}

fn store() -> SharedStore {
    let mut store = MailStore::new();
    store.add_account(Account {
        user: "taro".into(),
        password: "hunter2".into(),
        address: "taro@bench.example".into(),
    });
    SharedStore::new(store)
}

/// `count` lines of message text and the final dot.
fn text(count: usize) -> Vec<u8> {
    let mut text = b"Subject: lines\r\n\r\n".to_vec();
    for n in 0..count {
        text.extend_from_slice(format!("line {n} of the quick brown fox\r\n").as_bytes());
    }
    text
}

#[test]
fn smtp_message_text_costs_no_allocation_a_line() {
    let mut config = SmtpConfig::new("mx.bench.example");
    config.relay = RelayPolicy::Open;
    let mut session = SmtpSession::new(Arc::new(config), store(), false, false);
    let mut lines = LineBuffer::new(session.max_line());
    let mut out = Vec::with_capacity(4096);
    let envelope = b"MAIL FROM:<a@elsewhere.example>\r\nRCPT TO:<b@elsewhere.example>\r\nDATA\r\n";
    feed(&mut session, &mut lines, b"EHLO client\r\n", &mut out);
    // The first message grows the buffers; later ones reuse them.
    let mut send = |count: usize| {
        allocations(|| {
            feed(&mut session, &mut lines, envelope, &mut out);
            feed(&mut session, &mut lines, &text(count), &mut out);
            feed(&mut session, &mut lines, b".\r\n", &mut out);
            out.clear();
        })
    };
    send(1000);
    let short = send(10);
    let long = send(1000);
    // `text` itself makes one allocation a line, and its buffer grows.
    let made_by_text = allocations(|| drop(text(1000))) - allocations(|| drop(text(10)));
    assert!(
        long <= short + made_by_text,
        "1,000 lines: {long} allocations, 10 lines: {short}, of which the test's text: {made_by_text}"
    );
}

#[test]
fn pop3_retr_costs_no_allocation_a_line() {
    let store = store();
    for count in [10, 1000] {
        let mut content = text(count);
        content.extend_from_slice(b".starts with a dot\r\n");
        store
            .lock()
            .deliver("taro", content)
            .expect("the store has room");
    }
    let config = Arc::new(Pop3Config::new("mx.bench.example"));
    let mut session = Pop3Session::new(config, store, false);
    let mut lines = LineBuffer::new(session.max_line());
    let mut out = Vec::with_capacity(1 << 16);
    feed(
        &mut session,
        &mut lines,
        b"USER taro\r\nPASS hunter2\r\n",
        &mut out,
    );
    let mut retr = |command: &[u8]| {
        out.clear();
        allocations(|| feed(&mut session, &mut lines, command, &mut out))
    };
    // Warm: the reply buffer reaches its size.
    retr(b"RETR 2\r\n");
    let short = retr(b"RETR 1\r\n");
    let top = retr(b"TOP 2 900\r\n");
    let long = retr(b"RETR 2\r\n");
    assert_eq!(
        short, long,
        "RETR of 10 lines: {short} allocations, of 1,000: {long}"
    );
    assert!(top <= short, "TOP 2 900: {top} allocations, RETR: {short}");
    assert!(out.ends_with(b"\r\n..starts with a dot\r\n.\r\n"));
}

#[test]
fn line_framing_costs_no_allocation_a_line() {
    let mut lines = LineBuffer::new(1000);
    let chunk = text(100);
    lines.ingest(&chunk);
    while lines.next_line_ref().is_some() {}
    let made = allocations(|| {
        for _ in 0..10 {
            lines.ingest(&chunk);
            while let Some(LineRef::Complete(_)) = lines.next_line_ref() {}
        }
    });
    assert_eq!(made, 0, "framing 1,000 lines");
}
