//! The firewall shim: layers of first-match rules between the client and the
//! servers. Pure decisions, no I/O; [`super::SimNetwork`] carries them out.

use std::time::Duration;

/// What a rule does with a matching connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Pass it on to the next layer.
    Allow,
    /// Pass it on, through a faulty link (latency, bandwidth, reset, stall).
    Degrade(LinkFaults),
    /// Never answer the SYN: the connect hangs until the client gives up.
    Drop,
    /// Answer with a reset: the connect fails at once with "refused".
    Reject,
    /// Answer with ICMP "host unreachable" (or "administratively
    /// prohibited"): the connect fails at once with "no route to host".
    Unreachable,
    /// No route at all (no network): the connect fails at once with
    /// "network is unreachable".
    NoRoute,
    /// Complete the connection, then reset it before any data.
    Reset,
    /// A transparent proxy sends the connection to another host, same port.
    Redirect(String),
    /// A middlebox ends the client's connection here and opens its own
    /// upstream through the layers beyond.
    Intercept(Middlebox),
}

/// A box in the path that terminates and re-originates connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Middlebox {
    /// A local antivirus mail scanner: a plaintext proxy on the ports it
    /// scans, which closes the connection when the client starts TLS.
    MailScanner {
        /// How long it waits for its own upstream connect before closing the
        /// client's connection.
        upstream_timeout: Duration,
    },
    /// An antivirus scanner that intercepts TLS: it completes the client's
    /// handshake with a certificate it signs itself, and opens its own TLS
    /// connection to the server.
    ResigningScanner {
        /// How long it waits for its own upstream connect.
        upstream_timeout: Duration,
        /// The common name of the scanner's root, e.g. "Avast Web/Mail Shield Root".
        issuer: String,
    },
    /// Cisco PIX "fixup protocol smtp" / ASA "inspect esmtp": masks the
    /// greeting and turns commands outside RFC 821's minimum (EHLO,
    /// STARTTLS, AUTH) into XXXX.
    EsmtpInspection,
    /// A path that removes STARTTLS/STLS from capability lists and blocks the
    /// command.
    StartTlsStripper,
    /// A throttle (a server's or a box's) that lets the greeting through and
    /// closes the session before the first command is answered. It reads
    /// plaintext: inside implicit TLS it cannot tell where the greeting ends.
    CloseAfterGreeting,
    /// A local antivirus SMTP proxy that answers the session itself, as
    /// `localhost`, and takes every message to pass on later: what the real
    /// server would refuse, the client believes sent.
    AnsweringScanner {
        /// The product, named in its greeting.
        product: String,
    },
    /// A local antivirus SMTP proxy that relays the session but holds each
    /// message, from DATA to its final dot, until it has scanned all of it:
    /// the client waits at the end of DATA for as long as the scan takes.
    /// Its EHLO leaves out what would let the client stream past it.
    HoldingScanner {
        /// The product, named in the network log.
        product: String,
        /// Bytes scanned per second.
        scan_rate: u64,
    },
}

impl Middlebox {
    /// The name used in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            Middlebox::MailScanner { .. } => "mail-scanner",
            Middlebox::ResigningScanner { .. } => "resigning-scanner",
            Middlebox::EsmtpInspection => "esmtp-inspection",
            Middlebox::StartTlsStripper => "starttls-stripper",
            Middlebox::CloseAfterGreeting => "close-after-greeting",
            Middlebox::AnsweringScanner { .. } => "answering-scanner",
            Middlebox::HoldingScanner { .. } => "holding-scanner",
        }
    }
}

/// Link faults in the spirit of Toxiproxy's toxics. Each applies in the
/// server-to-client direction unless said otherwise.
///
/// | fault         | meaning                                                        |
/// |---------------|----------------------------------------------------------------|
/// | `latency`     | every chunk, and the connection itself, arrives this much later |
/// | `bandwidth`   | at most this many bytes per second                             |
/// | `reset_after` | after this many bytes the connection is reset (RST)            |
/// | `stall_after` | after this many bytes nothing more arrives                     |
/// | `close_after` | the connection closes this long after it opened (or, with      |
/// |               | `stall_after`, this long after the stall)                      |
/// | `slow_close`  | the server's close reaches the client this much later          |
/// | `max_packet`  | both ways: a packet larger than this is dropped, with no ICMP  |
/// |               | "fragmentation needed" back (a path-MTU blackhole)             |
/// | `window`      | both ways: at most this many bytes cross per round trip (the   |
/// |               | `latency`): a TCP window cut down by a router                  |
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkFaults {
    /// Added delay.
    pub latency: Duration,
    /// Bytes per second, if limited.
    pub bandwidth: Option<u64>,
    /// Reset after this many bytes.
    pub reset_after: Option<u64>,
    /// Stall after this many bytes.
    pub stall_after: Option<u64>,
    /// Close the connection after this long (after the stall, with `stall_after`).
    pub close_after: Option<Duration>,
    /// Delay of the close.
    pub slow_close: Duration,
    /// The largest packet (bytes of one write) that passes, both ways.
    pub max_packet: Option<u64>,
    /// Bytes that cross per round trip (`latency`), both ways.
    pub window: Option<u64>,
}

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// One rule: which connections it matches and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Destination host names; empty matches any host.
    pub to: Vec<String>,
    /// Destination ports; empty matches any port.
    pub ports: Vec<u16>,
    /// Address family; `None` matches both.
    pub family: Option<Family>,
    /// The action for a match.
    pub action: Action,
}

impl Rule {
    /// Whether the rule applies to a connection to `host:port` over `family`.
    pub fn matches(&self, host: &str, port: u16, family: Family) -> bool {
        (self.to.is_empty() || self.to.iter().any(|t| t.eq_ignore_ascii_case(host)))
            && (self.ports.is_empty() || self.ports.contains(&port))
            && self.family.is_none_or(|f| f == family)
    }
}

/// A stretch of the path (the client's machine, the ISP, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The layer's name, for transcripts.
    pub name: String,
    /// Rules in order; the first match decides, no match allows.
    pub rules: Vec<Rule>,
}

/// Where a connection attempt ends up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Through every layer to the destination.
    Deliver,
    /// Dropped in layer `layer` (an index into the path).
    Drop { layer: usize },
    /// Rejected in layer `layer`.
    Reject { layer: usize },
    /// Answered "host unreachable" in layer `layer`.
    Unreachable { layer: usize },
    /// No route beyond layer `layer`.
    NoRoute { layer: usize },
    /// Accepted, then reset, in layer `layer`.
    Reset { layer: usize },
    /// Sent to host `to` by layer `layer`.
    Redirect { layer: usize, to: String },
    /// Taken by a middlebox in layer `layer`.
    Intercept { layer: usize, middlebox: Middlebox },
}

/// A verdict and the link faults of the layers passed on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Where the connection ends up.
    pub verdict: Verdict,
    /// Faults of the links crossed before that, innermost first.
    pub faults: Vec<LinkFaults>,
}

/// Walks `layers` from index `start` outward for a connection to `host:port`.
pub fn route(layers: &[Layer], start: usize, host: &str, port: u16, family: Family) -> Route {
    let mut faults = Vec::new();
    for (index, layer) in layers.iter().enumerate().skip(start) {
        let action = layer
            .rules
            .iter()
            .find(|rule| rule.matches(host, port, family))
            .map(|r| &r.action);
        let verdict = match action {
            None | Some(Action::Allow) => continue,
            Some(Action::Degrade(link)) => {
                faults.push(link.clone());
                continue;
            }
            Some(Action::Drop) => Verdict::Drop { layer: index },
            Some(Action::Reject) => Verdict::Reject { layer: index },
            Some(Action::Unreachable) => Verdict::Unreachable { layer: index },
            Some(Action::NoRoute) => Verdict::NoRoute { layer: index },
            Some(Action::Reset) => Verdict::Reset { layer: index },
            Some(Action::Redirect(to)) => Verdict::Redirect {
                layer: index,
                to: to.clone(),
            },
            Some(Action::Intercept(middlebox)) => Verdict::Intercept {
                layer: index,
                middlebox: middlebox.clone(),
            },
        };
        return Route { verdict, faults };
    }
    Route {
        verdict: Verdict::Deliver,
        faults,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(to: &[&str], ports: &[u16], action: Action) -> Rule {
        Rule {
            to: to.iter().map(|s| s.to_string()).collect(),
            ports: ports.to_vec(),
            family: None,
            action,
        }
    }

    fn scanner() -> Middlebox {
        Middlebox::MailScanner {
            upstream_timeout: Duration::from_secs(30),
        }
    }

    /// The seed story's path: a local scanner, then an ISP with OP25B.
    fn op25b_behind_scanner() -> Vec<Layer> {
        vec![
            Layer {
                name: "local".into(),
                rules: vec![rule(
                    &[],
                    &[25, 110, 465, 995],
                    Action::Intercept(scanner()),
                )],
            },
            Layer {
                name: "isp".into(),
                rules: vec![
                    rule(&["mail.isp.example"], &[25], Action::Allow),
                    rule(&[], &[25], Action::Drop),
                ],
            },
        ]
    }

    fn verdict(layers: &[Layer], start: usize, host: &str, port: u16) -> Verdict {
        route(layers, start, host, port, Family::V4).verdict
    }

    #[test]
    fn first_match_wins_in_each_layer() {
        let layers = op25b_behind_scanner();
        assert_eq!(
            verdict(&layers, 1, "mail.isp.example", 25),
            Verdict::Deliver
        );
        assert_eq!(
            verdict(&layers, 1, "smtp.other.example", 25),
            Verdict::Drop { layer: 1 }
        );
        assert_eq!(
            verdict(&layers, 1, "smtp.other.example", 587),
            Verdict::Deliver
        );
    }

    #[test]
    fn the_innermost_layer_decides_first() {
        let layers = op25b_behind_scanner();
        assert_eq!(
            verdict(&layers, 0, "smtp.other.example", 25),
            Verdict::Intercept {
                layer: 0,
                middlebox: scanner()
            }
        );
        assert_eq!(
            verdict(&layers, 0, "smtp.other.example", 587),
            Verdict::Deliver
        );
    }

    #[test]
    fn host_names_match_case_insensitively() {
        let layers = vec![Layer {
            name: "isp".into(),
            rules: vec![rule(&["Mail.ISP.example"], &[], Action::Reject)],
        }];
        assert_eq!(
            verdict(&layers, 0, "mail.isp.example", 110),
            Verdict::Reject { layer: 0 }
        );
        assert_eq!(verdict(&layers, 0, "other.example", 110), Verdict::Deliver);
    }

    #[test]
    fn families_and_degraded_links() {
        let slow = LinkFaults {
            latency: Duration::from_secs(2),
            ..LinkFaults::default()
        };
        let mut v6_only = rule(&[], &[], Action::Drop);
        v6_only.family = Some(Family::V6);
        let layers = vec![
            Layer {
                name: "wifi".into(),
                rules: vec![rule(&[], &[], Action::Degrade(slow.clone()))],
            },
            Layer {
                name: "isp".into(),
                rules: vec![v6_only],
            },
        ];
        let v4 = route(&layers, 0, "mx.example", 25, Family::V4);
        assert_eq!((v4.verdict, v4.faults), (Verdict::Deliver, vec![slow]));
        let v6 = route(&layers, 0, "mx.example", 25, Family::V6);
        assert_eq!(v6.verdict, Verdict::Drop { layer: 1 });
    }
}
