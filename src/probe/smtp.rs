//! The SMTP conversation: greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT, RSET,
//! QUIT. Never DATA.

use mock_servers::sasl::{self, Mechanism};
use mock_servers::smtp::{Reply, ReplyParser};

use super::conversation::{Conversation, StepResult};
use super::observation::{Failure, Step};
use super::{Credentials, Endpoint, Plan, Prober, Security};

/// Walks the SMTP steps after the connection (and implicit TLS) is up.
pub(super) async fn converse(
    conversation: &mut Conversation<'_>,
    prober: &Prober,
    endpoint: &Endpoint,
    plan: Plan<'_>,
) -> StepResult<()> {
    let greeting = reply(conversation, Step::Greeting).await?;
    if greeting.code != 220 {
        return Err((Step::Greeting, negative(&greeting)));
    }
    let mut capabilities = ehlo(conversation, &prober.client_name).await?;
    if endpoint.security == Security::StartTls {
        if !offers(&capabilities, "STARTTLS") {
            return Err((
                Step::StartTls,
                Failure::NotOffered {
                    what: "STARTTLS".into(),
                },
            ));
        }
        command(conversation, Step::StartTls, "STARTTLS", &[220]).await?;
        conversation.start_tls(&prober.tls, &endpoint.host).await?;
        capabilities = ehlo(conversation, &prober.client_name).await?;
    }
    if let Plan::Full(account) = plan {
        if let Some(credentials) = &account.credentials {
            authenticate(conversation, &capabilities, credentials).await?;
        }
        let mut mail = format!("MAIL FROM:<{}>", account.from);
        if let Some(size) = account.message_size {
            mail.push_str(&format!(" SIZE={size}"));
        }
        command(conversation, Step::MailFrom, &mail, &[250]).await?;
        let rcpt = format!("RCPT TO:<{}>", account.rcpt);
        command(conversation, Step::RcptTo, &rcpt, &[250, 251]).await?;
        // Nothing was sent; leave the transaction and the session cleanly.
        let _ = command(conversation, Step::Leave, "RSET", &[250]).await;
    }
    let _ = command(conversation, Step::Leave, "QUIT", &[221]).await;
    Ok(())
}

/// Reads one complete reply.
async fn reply(conversation: &mut Conversation<'_>, step: Step) -> StepResult<Reply> {
    let mut parser = ReplyParser::new();
    conversation
        .receive(step, |line| {
            parser.push(line).map_err(|_| Failure::Garbage {
                bytes: line.iter().copied().take(64).collect(),
            })
        })
        .await
}

/// Sends `line` and expects one of `accept` as the reply code.
async fn command(
    conversation: &mut Conversation<'_>,
    step: Step,
    line: &str,
    accept: &[u16],
) -> StepResult<Reply> {
    conversation.send(step, line).await?;
    expect(conversation, step, accept).await
}

async fn expect(
    conversation: &mut Conversation<'_>,
    step: Step,
    accept: &[u16],
) -> StepResult<Reply> {
    let reply = reply(conversation, step).await?;
    if accept.contains(&reply.code) {
        Ok(reply)
    } else {
        Err((step, negative(&reply)))
    }
}

fn negative(reply: &Reply) -> Failure {
    Failure::Reply {
        code: reply.code,
        text: reply.lines.join(" / "),
    }
}

/// EHLO, falling back to HELO for servers that do not know it. Returns the
/// capability lines (empty after HELO).
async fn ehlo(conversation: &mut Conversation<'_>, client_name: &str) -> StepResult<Vec<String>> {
    conversation
        .send(Step::Ehlo, &format!("EHLO {client_name}"))
        .await?;
    let reply = reply(conversation, Step::Ehlo).await?;
    if reply.code == 250 {
        return Ok(reply.lines[1..].to_vec());
    }
    if !reply.is_permanent() {
        return Err((Step::Ehlo, negative(&reply)));
    }
    command(
        conversation,
        Step::Ehlo,
        &format!("HELO {client_name}"),
        &[250],
    )
    .await?;
    Ok(Vec::new())
}

/// Whether the EHLO capabilities include `keyword`.
pub fn offers(capabilities: &[String], keyword: &str) -> bool {
    capabilities.iter().any(|line| {
        line.split_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
    })
}

/// The SASL mechanisms listed in `AUTH ...` (or the old `AUTH=...`).
pub fn auth_mechanisms(capabilities: &[String]) -> Vec<String> {
    capabilities
        .iter()
        .filter_map(|line| {
            let upper = line.to_ascii_uppercase();
            let rest = upper
                .strip_prefix("AUTH ")
                .or_else(|| upper.strip_prefix("AUTH="))?;
            Some(
                rest.split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            )
        })
        .flatten()
        .collect()
}

async fn authenticate(
    conversation: &mut Conversation<'_>,
    capabilities: &[String],
    credentials: &Credentials,
) -> StepResult<()> {
    let offered = auth_mechanisms(capabilities);
    let chosen = [Mechanism::Plain, Mechanism::Login]
        .into_iter()
        .find(|m| offered.iter().any(|o| o == m.name()));
    // A client told that the server requires authentication logs in even
    // when EHLO does not list AUTH; the server's answer is the evidence.
    let chosen = if offered.is_empty() {
        Some(Mechanism::Login)
    } else {
        chosen
    };
    match chosen {
        None => Err((
            Step::Auth,
            Failure::NotOffered {
                what: format!(
                    "a common AUTH mechanism (server offers {})",
                    offered.join(" ")
                ),
            },
        )),
        Some(Mechanism::Plain) => {
            let line = format!(
                "AUTH PLAIN {}",
                sasl::encode_plain(&credentials.user, &credentials.password)
            );
            conversation
                .send_as(Step::Auth, &line, "AUTH PLAIN <credentials redacted>")
                .await?;
            expect(conversation, Step::Auth, &[235]).await.map(drop)
        }
        Some(Mechanism::Login) => {
            command(conversation, Step::Auth, "AUTH LOGIN", &[334]).await?;
            let user = sasl::encode(&credentials.user);
            conversation
                .send_as(Step::Auth, &user, "<user name>")
                .await?;
            expect(conversation, Step::Auth, &[334]).await?;
            let password = sasl::encode(&credentials.password);
            conversation
                .send_as(Step::Auth, &password, "<password redacted>")
                .await?;
            expect(conversation, Step::Auth, &[235]).await.map(drop)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_capabilities() {
        let capabilities = caps(&[
            "PIPELINING",
            "STARTTLS",
            "AUTH PLAIN LOGIN",
            "AUTH=CRAM-MD5",
        ]);
        assert!(offers(&capabilities, "starttls"));
        assert!(!offers(&capabilities, "SMTPUTF8"));
        assert_eq!(
            auth_mechanisms(&capabilities),
            vec!["PLAIN", "LOGIN", "CRAM-MD5"]
        );
        assert!(auth_mechanisms(&caps(&["8BITMIME"])).is_empty());
    }
}
