//! The firewall shim: layers of first-match rules between the client and the
//! servers. Pure decisions, no I/O; [`super::SimNetwork`] carries them out.

use std::time::Duration;

/// What a rule does with a matching connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Pass it on to the next layer.
    Allow,
    /// Never answer the SYN: the connect hangs until the client gives up.
    Drop,
    /// Answer with a reset: the connect fails at once with "refused".
    Reject,
    /// A middlebox ends the client's connection here and opens its own
    /// upstream through the layers beyond.
    Intercept(Middlebox),
}

/// A box in the path that terminates and re-originates connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Middlebox {
    /// A local antivirus mail scanner: a plaintext proxy on the ports it scans.
    MailScanner {
        /// How long it waits for its own upstream connect before closing the
        /// client's connection.
        upstream_timeout: Duration,
    },
}

impl Middlebox {
    /// The name used in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            Middlebox::MailScanner { .. } => "mail-scanner",
        }
    }
}

/// One rule: which connections it matches and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Destination host names; empty matches any host.
    pub to: Vec<String>,
    /// Destination ports; empty matches any port.
    pub ports: Vec<u16>,
    /// The action for a match.
    pub action: Action,
}

impl Rule {
    /// Whether the rule applies to a connection to `host:port`.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        (self.to.is_empty() || self.to.iter().any(|t| t.eq_ignore_ascii_case(host)))
            && (self.ports.is_empty() || self.ports.contains(&port))
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
    /// Taken by a middlebox in layer `layer`.
    Intercept { layer: usize, middlebox: Middlebox },
}

/// Walks `layers` from index `start` outward for a connection to `host:port`.
pub fn route(layers: &[Layer], start: usize, host: &str, port: u16) -> Verdict {
    for (index, layer) in layers.iter().enumerate().skip(start) {
        let action = layer
            .rules
            .iter()
            .find(|rule| rule.matches(host, port))
            .map(|r| &r.action);
        match action {
            None | Some(Action::Allow) => continue,
            Some(Action::Drop) => return Verdict::Drop { layer: index },
            Some(Action::Reject) => return Verdict::Reject { layer: index },
            Some(Action::Intercept(middlebox)) => {
                return Verdict::Intercept {
                    layer: index,
                    middlebox: middlebox.clone(),
                }
            }
        }
    }
    Verdict::Deliver
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(to: &[&str], ports: &[u16], action: Action) -> Rule {
        Rule {
            to: to.iter().map(|s| s.to_string()).collect(),
            ports: ports.to_vec(),
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

    #[test]
    fn first_match_wins_in_each_layer() {
        let layers = op25b_behind_scanner();
        assert_eq!(route(&layers, 1, "mail.isp.example", 25), Verdict::Deliver);
        assert_eq!(
            route(&layers, 1, "smtp.other.example", 25),
            Verdict::Drop { layer: 1 }
        );
        assert_eq!(
            route(&layers, 1, "smtp.other.example", 587),
            Verdict::Deliver
        );
    }

    #[test]
    fn the_innermost_layer_decides_first() {
        let layers = op25b_behind_scanner();
        assert_eq!(
            route(&layers, 0, "smtp.other.example", 25),
            Verdict::Intercept {
                layer: 0,
                middlebox: scanner()
            }
        );
        assert_eq!(
            route(&layers, 0, "smtp.other.example", 587),
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
            route(&layers, 0, "mail.isp.example", 110),
            Verdict::Reject { layer: 0 }
        );
        assert_eq!(route(&layers, 0, "other.example", 110), Verdict::Deliver);
    }
}
