//! Hostile input never panics the parsers or the session state machines.
//! A seeded generator keeps the run repeatable; no fuzzer toolchain needed.

use std::sync::Arc;

use mock_mail_servers::imap::session::ImapSession;
use mock_mail_servers::imap::ImapConfig;
use mock_mail_servers::line::LineBuffer;
use mock_mail_servers::mailstore::{Account, MailStore, SharedStore};
use mock_mail_servers::pop3::session::Pop3Session;
use mock_mail_servers::pop3::{Pop3Config, Status};
use mock_mail_servers::smtp::session::SmtpSession;
use mock_mail_servers::smtp::{ReplyParser, SmtpConfig};

/// xorshift64*: small, seeded, good enough to shake parsers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A line biased towards protocol words, digits and separators.
    fn line(&mut self) -> Vec<u8> {
        const WORDS: &[&[u8]] = &[
            b"EHLO ",
            b"HELO ",
            b"MAIL FROM:<",
            b"RCPT TO:<",
            b"DATA",
            b"AUTH PLAIN ",
            b"AUTH LOGIN",
            b"STARTTLS",
            b"USER ",
            b"PASS ",
            b"RETR ",
            b"TOP ",
            b"DELE ",
            b"LIST",
            b"UIDL",
            b"QUIT",
            b"a1 ",
            b"LOGIN ",
            b"AUTHENTICATE ",
            b"SELECT INBOX",
            b"UID FETCH ",
            b"FETCH 1:* ",
            b"(BODY[] UID)",
            b"BODY.PEEK[HEADER]",
            b"{5}",
            b"{3+}",
            b"\"",
            b"(",
            b")",
            b":",
            b"+OK",
            b"-ERR",
            b"250-",
            b"250 ",
            b"535 ",
            b">",
            b".",
            b"*",
            b"=",
            b" ",
            b"\r",
            b"0",
            b"9",
            b"\xff",
            b"\x00",
            b"\xe6\xa7\x98",
        ];
        let mut line = Vec::new();
        for _ in 0..(self.next() % 8) {
            if self.next().is_multiple_of(3) {
                line.push(self.next() as u8);
            } else {
                line.extend_from_slice(WORDS[(self.next() % WORDS.len() as u64) as usize]);
            }
        }
        line
    }
}

fn store() -> SharedStore {
    let mut store = MailStore::new();
    store.add_account(Account {
        user: "taro".into(),
        password: "hunter2".into(),
        address: "taro@example".into(),
    });
    store
        .deliver("taro", b"Subject: x\r\n\r\n.\r\n..\r\n".to_vec())
        .unwrap();
    SharedStore::new(store)
}

#[test]
fn parsers_and_sessions_survive_random_lines() {
    let mut rng = Rng(0x6d61_696c_7072_6f62);
    let store = store();
    for round in 0..200 {
        let mut smtp = SmtpSession::new(
            Arc::new(SmtpConfig::new("mx.example")),
            store.clone(),
            round % 2 == 0,
            false,
        );
        let mut pop3 =
            Pop3Session::new(Arc::new(Pop3Config::new("mx.example")), store.clone(), true);
        let mut imap = ImapSession::new(
            Arc::new(ImapConfig::new("mx.example")),
            store.clone(),
            round % 3 == 0,
            false,
        );
        if round % 2 == 0 {
            // Half the rounds shake the selected state.
            let _ = imap.handle_line(b"a0 LOGIN taro hunter2");
            let _ = imap.handle_line(b"a0 SELECT INBOX");
        }
        let mut replies = ReplyParser::new();
        let mut framer = LineBuffer::new(64);
        for _ in 0..50 {
            let line = rng.line();
            let _ = smtp.handle_line(&line);
            let _ = pop3.handle_line(&line);
            let _ = imap.handle_line(&line);
            let _ = replies.push(&line);
            let _ = Status::parse(&line);
            framer.ingest(&line);
            while framer.next_line().is_some() {}
        }
    }
}
