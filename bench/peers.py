#!/usr/bin/env python3
"""mailprobe's mock servers beside what a user would pick instead, on this
machine, interleaved (peer A, peer B, A, B, ...) and reported as medians.

1. SMTP: Postfix's smtp-sink against `mailprobe serve` (the mock SMTP server),
   both driven by Postfix's smtp-source in four modes. Reported: messages per
   second, and the server's CPU per message from /proc (user + system). Beside
   them, when bench/peers.sh has built it, bench/smtp_floor.rs: the least a
   server can do (blocking sockets, fixed replies), what the kernel costs alone.
2. POP3: Dovecot (login processes reused: service_count = 0) against the mock
   POP3 server, plain and TLS: sessions of login + RETR of a 10 KB message,
   driven by one Python client. Reported: sessions per second and server CPU
   per session.
3. The seed's three cases: pytest + aiosmtpd in real time (bench/pytest_seed)
   against `mailprobe run scenarios/seed/` in virtual time.

Run by bench/peers.sh, which installs the peers the way .ci/run installs the
interop tests' tools. Every server listens on 127.0.0.1 and is stopped at the end.
"""

import argparse
import atexit
import os
import poplib
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAILPROBE = os.path.join(ROOT, "target", "release", "mailprobe")
TICKS = os.sysconf("SC_CLK_TCK")
STARTED = []
# The POP3 users, one per client process at once (a maildrop admits one session).
USERS = ("taro", "jiro")


@atexit.register
def stop_servers():
    for process in STARTED:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait()


def start(command, **options):
    """A server process, stopped at exit whatever happens."""
    process = subprocess.Popen(command, **options)
    STARTED.append(process)
    return process


def run_time(pid):
    """CPU seconds of `pid`'s live threads from the scheduler's own count
    (/proc/PID/task/TID/sched, to the microsecond), or None where the kernel
    does not show it. /proc/PID/stat counts in ticks of 10 ms: a run of
    3,000 messages at 25 µs each is 75 ms, which ticks measure to ±13%."""
    total = 0.0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/sched") as sched:
                line = next((l for l in sched if l.startswith("se.sum_exec_runtime")), None)
            if line is None:
                return None
            total += float(line.split(":")[1]) / 1000
    except OSError:
        return None
    return total


def cpu_seconds(pid):
    """User + system CPU of `pid`, its live children, and children it reaped
    (these in ticks: the kernel keeps no finer count of them)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is field 3 (state): ppid is 4, utime 14, stime 15, cutime 16, cstime 17.
        ppid, utime, stime, cutime, cstime = (int(fields[i]) for i in (1, 11, 12, 13, 14))
        if int(entry) != pid and ppid != pid:
            continue
        live = run_time(int(entry))
        total += (utime + stime) / TICKS if live is None else live
        if int(entry) == pid:
            total += (cutime + cstime) / TICKS
    return total


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on 127.0.0.1:{port}")


def measure(pid, work):
    """Wall seconds and the server's CPU seconds for `work()`."""
    cpu, wall = cpu_seconds(pid), time.perf_counter()
    work()
    return time.perf_counter() - wall, cpu_seconds(pid) - cpu


def medians(results):
    """Per peer, the medians of its (rate, CPU) runs."""
    return {name: tuple(statistics.median(run[i] for run in runs) for i in (0, 1))
            for name, runs in results.items()}


def serve_world():
    """`mailprobe serve` of bench/worlds/bench.yaml: the process and its ports by world port."""
    process = start(
        [MAILPROBE, "serve", os.path.join(ROOT, "bench/worlds/bench.yaml"), "--for", "3600s", "--ca-key", "ecdsa"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ports = {}
    for line in process.stdout:
        if "->" in line:
            world, local = line.split("->")
            ports[int(world.split("(")[0].split(":")[1])] = int(local.strip().rsplit(":", 1)[1])
        if line.startswith("serving"):
            break
    return process, ports


def smtp_server(name):
    """A fresh SMTP server (each run starts empty: the mock keeps what it
    receives, within its store's limit): the process and its port."""
    if name == "mailprobe":
        process, ports = serve_world()
        return process, ports[25]
    if name == "floor":
        process = start([FLOOR], stdout=subprocess.PIPE, text=True)
        return process, int(process.stdout.readline())
    port = free_port()
    # smtp-sink drops root privileges to -u's user when run as root.
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    process = start(["smtp-sink", *user, f"127.0.0.1:{port}", "1000"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return process, port


# Where the mock's messages go: into taro's mailbox, where a test reads them
# back, or to an outside address the world's open relay accepts and drops,
# as smtp-sink drops everything.
MOCK_RECIPIENTS = {"mailprobe": "taro@bench.example", "mailprobe, dropping": "someone@elsewhere.example"}
# bench/smtp_floor.rs, built by bench/peers.sh: the least a server can do.
FLOOR = os.path.join(ROOT, "target", "release", "smtp-floor")


def smtp(args, rounds):
    modes = [("1 session", 1, False), ("1 session, reused", 1, True),
             ("10 sessions", 10, False), ("10 sessions, reused", 10, True)]
    rows = []
    for label, sessions, reuse in modes:
        floor = ("floor",) if os.path.exists(FLOOR) else ()
        results = {name: [] for name in ("smtp-sink", *MOCK_RECIPIENTS, *floor)}
        for _ in range(rounds):
            for name in results:
                process, port = smtp_server(name if name in ("smtp-sink", "floor") else "mailprobe")
                recipient = MOCK_RECIPIENTS.get(name, "taro@bench.example")
                command = ["smtp-source", "-s", str(sessions), "-m", str(args.messages), "-l", "1024",
                           "-f", "hanako@elsewhere.example", "-t", recipient]
                if reuse:
                    command.append("-d")
                command.append(f"127.0.0.1:{port}")
                wall, cpu = measure(process.pid, lambda: subprocess.run(command, check=True))
                process.send_signal(signal.SIGTERM)
                process.wait()
                results[name].append((args.messages / wall, cpu / args.messages * 1e6))
        rows.append((label, medians(results)))
    print(f"\nSMTP, {args.messages} messages of 1 KB per run, median of {rounds} interleaved runs")
    floor = "floor" in rows[0][1]
    print("| mode | smtp-sink msg/s | smtp-sink CPU µs/msg | mock msg/s | mock CPU µs/msg | mock/sink CPU "
          "| mock dropping: msg/s | CPU µs/msg | /sink CPU |" + (" floor: msg/s | CPU µs/msg | /sink CPU |" if floor else ""))
    print("|---|---|---|---|---|---|---|---|---|" + ("---|---|---|" if floor else ""))
    for label, r in rows:
        sink_rate, sink_cpu = r["smtp-sink"]
        cells = []
        for name in (*MOCK_RECIPIENTS, *(("floor",) if floor else ())):
            rate, cpu = r[name]
            ratio = cpu / sink_cpu if sink_cpu else float("nan")
            cells.append(f"{rate:.0f} | {cpu:.1f} | {ratio:.2f}x")
        print(f"| {label} | {sink_rate:.0f} | {sink_cpu:.1f} | {' | '.join(cells)} |")


def dovecot(folder):
    """Dovecot with POP3 on two free ports (plain, TLS), login processes reused."""
    for user in USERS:
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(folder, f"mail/{user}/Maildir/{sub}"), exist_ok=True)
    os.makedirs(os.path.join(folder, "run"), exist_ok=True)
    subprocess.run(["chmod", "-R", "777", os.path.join(folder, "mail")], check=True)
    body = ("The quick brown fox jumps over the lazy dog. " * 22 + "\n") * 10
    message = ("From: hanako@elsewhere.example\nTo: taro@bench.example\nSubject: Ten kilobytes\n\n"
               + body[:10240])
    for user in USERS:
        with open(os.path.join(folder, f"mail/{user}/Maildir/new/1.bench:2,"), "w") as f:
            f.write(message)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", f"{folder}/key.pem", "-out", f"{folder}/cert.pem",
                    "-days", "2", "-subj", "/CN=mx.bench.example"], check=True, capture_output=True)
    with open(os.path.join(folder, "passwd"), "w") as f:
        f.writelines(f"{user}:{{PLAIN}}hunter2::::::\n" for user in USERS)
    plain, tls = free_port(), free_port()
    config = f"""base_dir = {folder}/run
state_dir = {folder}/run
protocols = pop3
listen = 127.0.0.1
log_path = {folder}/dovecot.log
ssl = yes
ssl_cert = <{folder}/cert.pem
ssl_key = <{folder}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {folder}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={folder}/mail/%u
}}
mail_location = maildir:{folder}/mail/%u/Maildir
service pop3-login {{
  service_count = 0
  process_min_avail = 1
  inet_listener pop3 {{
    port = {plain}
  }}
  inet_listener pop3s {{
    port = {tls}
    ssl = yes
  }}
}}
service pop3 {{
  service_count = 0
  client_limit = 100
  process_limit = 4
}}
service anvil {{
  chroot =
}}
"""
    with open(os.path.join(folder, "dovecot.conf"), "w") as f:
        f.write(config)
    master = start(["/usr/sbin/dovecot", "-F", "-c", os.path.join(folder, "dovecot.conf")])
    wait_for_port(plain)
    return master, plain, tls


def pop3_clients(port, tls, count, clients):
    """`count` sessions split over `clients` client processes at once."""
    if clients <= 1:
        pop3_sessions(port, tls, count)
        return
    import multiprocessing
    share = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]
    with multiprocessing.Pool(clients) as pool:
        pool.starmap(pop3_sessions, [(port, tls, n, USERS[i % len(USERS)]) for i, n in enumerate(share)])


def pop3_sessions(port, tls, count, user="taro"):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    for _ in range(count):
        if tls:
            client = poplib.POP3_SSL("127.0.0.1", port, context=context, timeout=10)
        else:
            client = poplib.POP3("127.0.0.1", port, timeout=10)
        client.user(user)
        client.pass_("hunter2")
        _, lines, _ = client.retr(1)
        assert sum(map(len, lines)) >= 9000, sum(map(len, lines))
        client.quit()


def pop3(args, rounds):
    folder = tempfile.mkdtemp(prefix="mailprobe-bench-dovecot-")
    os.chmod(folder, 0o755)  # Dovecot's auth and mail processes run as other users.
    master, dovecot_plain, dovecot_tls = dovecot(folder)
    mock, ports = serve_world()
    peers = {"dovecot": (master.pid, dovecot_plain, dovecot_tls),
             "mailprobe": (mock.pid, ports[110], ports[995])}
    for _, plain, tls in peers.values():
        pop3_sessions(plain, False, 3)
        pop3_sessions(tls, True, 3)
    rows = []
    for label, tls in (("plain (110)", False), ("TLS (995)", True)):
        results = {name: [] for name in peers}
        for _ in range(rounds):
            for name, (pid, plain, secure) in peers.items():
                port = secure if tls else plain
                wall, cpu = measure(pid, lambda: pop3_clients(port, tls, args.sessions, args.clients))
                results[name].append((args.sessions / wall, cpu / args.sessions * 1e6))
        rows.append((label, medians(results)))
    for process in (master, mock):
        process.send_signal(signal.SIGTERM)
        process.wait()
    shutil.rmtree(folder, ignore_errors=True)
    print(f"\nPOP3, {args.sessions} sessions (login, RETR of 10 KB, QUIT) per run from {args.clients} client process(es), median of {rounds} interleaved runs")
    print("| mode | Dovecot sessions/s | Dovecot CPU µs/session | mock sessions/s | mock CPU µs/session | mock/Dovecot rate |")
    print("|---|---|---|---|---|---|")
    for label, r in rows:
        d_rate, d_cpu = r["dovecot"]
        m_rate, m_cpu = r["mailprobe"]
        print(f"| {label} | {d_rate:.0f} | {d_cpu:.0f} | {m_rate:.0f} | {m_cpu:.0f} | {m_rate / d_rate:.2f}x |")


def seed(rounds):
    pytest_times, mailprobe_times = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        os.path.join(ROOT, "bench/pytest_seed")], check=True, capture_output=True)
        pytest_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        subprocess.run([MAILPROBE, "run", os.path.join(ROOT, "scenarios/seed")], check=True,
                       capture_output=True)
        mailprobe_times.append(time.perf_counter() - started)
    p, m = statistics.median(pytest_times), statistics.median(mailprobe_times)
    print(f"\nThe seed's three cases, median of {rounds} interleaved runs")
    print("| how | wall time |")
    print("|---|---|")
    print(f"| pytest + aiosmtpd, real sockets and time (bench/pytest_seed, 3 tests) | {p:.2f} s |")
    print(f"| `mailprobe run scenarios/seed/` (virtual time, every seed scenario) | {m * 1000:.1f} ms |")
    print(f"| ratio | {p / m:.0f}x |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--clients", type=int, default=1, choices=range(1, len(USERS) + 1),
                        help="POP3 client processes at once (default 1)")
    parser.add_argument("--only", choices=["smtp", "pop3", "seed"])
    args = parser.parse_args()
    if not os.path.exists(MAILPROBE):
        sys.exit("build first: cargo build --release")
    for tool in ("smtp-sink", "smtp-source"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: bench/peers.sh installs Postfix")
    if args.only in (None, "smtp"):
        smtp(args, args.rounds)
    if args.only in (None, "pop3"):
        pop3(args, args.rounds)
    if args.only in (None, "seed"):
        seed(min(args.rounds, 3))


if __name__ == "__main__":
    main()
