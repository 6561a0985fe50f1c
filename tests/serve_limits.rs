//! `mailprobe serve` under abuse: descriptor exhaustion, a huge message body.
//! The served port keeps listening, and the server's memory stays bounded.
//! Everything listens on 127.0.0.1 and stops by itself (`--for`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::Duration;

const WORLD: &str = "name: served for abuse
world:
  hosts:
    mx.abuse.example:
      smtp: { ports: { 25: plain } }
  users:
    - { user: taro, password: hunter2, address: taro@abuse.example }
client:
  smtp: { host: mx.abuse.example, port: 25 }
";

/// `mailprobe serve` of [`WORLD`], killed when dropped.
struct Served {
    child: Child,
    port: u16,
    /// Kept open: what `serve` prints after its ports is read by nobody.
    _stdout: BufReader<std::process::ChildStdout>,
    stderr: BufReader<ChildStderr>,
    file: PathBuf,
}

impl Served {
    /// Serves the world, with at most `descriptors` open files if given.
    fn start(tag: &str, descriptors: Option<u32>) -> Served {
        let file = std::env::temp_dir().join(format!(
            "mailprobe-serve-limits-{}-{tag}.yaml",
            std::process::id()
        ));
        std::fs::write(&file, WORLD).unwrap();
        let binary = env!("CARGO_BIN_EXE_mailprobe");
        let limit = descriptors.map_or(String::new(), |n| format!("ulimit -n {n} && "));
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("{limit}exec \"$0\" serve \"$1\" --for 120s"))
            .arg(binary)
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sh starts mailprobe serve");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut port = 0;
        let mut line = String::new();
        while stdout.read_line(&mut line).unwrap() > 0 && !line.starts_with("serving") {
            port = line.trim().rsplit(':').next().unwrap().parse().unwrap();
            line.clear();
        }
        let stderr = BufReader::new(child.stderr.take().unwrap());
        Served {
            child,
            port,
            _stdout: stdout,
            stderr,
            file,
        }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
    }

    /// Waits for a line on the server's stderr that contains `text`.
    fn wait_for_stderr(&mut self, text: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let read = self.stderr.read_line(&mut line).unwrap();
            assert!(read > 0, "serve ended without saying {text:?}");
            if line.contains(text) {
                return line;
            }
        }
    }

    /// The server's resident memory in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.file);
    }
}

fn greeting(stream: &mut TcpStream) -> String {
    let mut buffer = [0u8; 512];
    let n = stream.read(&mut buffer).unwrap_or(0);
    String::from_utf8_lossy(&buffer[..n]).into_owned()
}

#[test]
fn the_port_keeps_listening_after_descriptors_run_out() {
    let mut served = Served::start("emfile", Some(40));
    let mut held = Vec::new();
    for _ in 0..80 {
        held.push(served.connect());
    }
    let said = served.wait_for_stderr("cannot accept");
    assert!(said.contains("retrying"), "{said}");
    drop(held);
    served.wait_for_stderr("accepting on");
    let mut fresh = served.connect();
    let greeting = greeting(&mut fresh);
    assert!(greeting.starts_with("220 "), "{greeting:?}");
}

#[test]
fn a_huge_body_is_refused_without_being_kept() {
    let served = Served::start("body", None);
    let mut stream = served.connect();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut reply = String::new();
    let mut command = |line: &str, reply: &mut String| {
        stream.write_all(line.as_bytes()).unwrap();
        reply.clear();
        loop {
            let mut one = String::new();
            reader.read_line(&mut one).unwrap();
            reply.push_str(&one);
            if one.len() < 4 || one.as_bytes()[3] == b' ' {
                break;
            }
        }
    };
    command("", &mut reply);
    command("EHLO client\r\n", &mut reply);
    command("MAIL FROM:<x@elsewhere.example>\r\n", &mut reply);
    command("RCPT TO:<taro@abuse.example>\r\n", &mut reply);
    assert!(reply.starts_with("250"), "{reply}");
    command("DATA\r\n", &mut reply);
    assert!(reply.starts_with("354"), "{reply}");
    let line = format!("{}\r\n", "x".repeat(990));
    let chunk = line.repeat(1000);
    // 100 MB, ten times the SIZE limit.
    for _ in 0..100 {
        writer.write_all(chunk.as_bytes()).unwrap();
    }
    command(".\r\n", &mut reply);
    assert!(reply.starts_with("552 5.3.4"), "{reply}");
    let rss = served.rss_kib();
    assert!(rss < 64 * 1024, "serve holds {rss} KiB after a 100 MB body");
}
