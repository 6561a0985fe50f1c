//! The POP3 conversation: greeting, CAPA, STLS, USER/PASS, STAT, QUIT.
//! Never DELE.

use mock_servers::pop3::Status;

use super::conversation::{Conversation, StepResult};
use super::observation::{Failure, Step};
use super::{Endpoint, Plan, Prober, Security};

/// Walks the POP3 steps after the connection (and implicit TLS) is up.
pub(super) async fn converse(
    conversation: &mut Conversation<'_>,
    prober: &Prober,
    endpoint: &Endpoint,
    plan: Plan<'_>,
) -> StepResult<()> {
    status(conversation, Step::Greeting).await?;
    let mut capabilities = capa(conversation).await?;
    if endpoint.security == Security::StartTls {
        if !capabilities.iter().any(|c| c.eq_ignore_ascii_case("STLS")) {
            return Err((
                Step::Stls,
                Failure::NotOffered {
                    what: "STLS".into(),
                },
            ));
        }
        command(conversation, Step::Stls, "STLS").await?;
        conversation.start_tls(&prober.tls, &endpoint.host).await?;
        capabilities = capa(conversation).await?;
    }
    let _ = capabilities;
    if let Plan::Full(account) = plan {
        if let Some(credentials) = &account.credentials {
            command(
                conversation,
                Step::User,
                &format!("USER {}", credentials.user),
            )
            .await?;
            let pass = format!("PASS {}", credentials.password);
            conversation
                .send_as(Step::Pass, &pass, "PASS <password redacted>")
                .await?;
            status(conversation, Step::Pass).await?;
            command(conversation, Step::Stat, "STAT").await?;
        }
    }
    let _ = command(conversation, Step::Leave, "QUIT").await;
    Ok(())
}

/// Reads a status line; `-ERR` is a failure of `step`.
async fn status(conversation: &mut Conversation<'_>, step: Step) -> StepResult<Status> {
    let status = conversation
        .receive(step, |line| match Status::parse(line) {
            Some(status) => Ok(Some(status)),
            None => Err(Failure::Garbage {
                bytes: line.iter().copied().take(64).collect(),
            }),
        })
        .await?;
    if status.ok {
        Ok(status)
    } else {
        Err((step, Failure::PopError { text: status.text }))
    }
}

async fn command(
    conversation: &mut Conversation<'_>,
    step: Step,
    line: &str,
) -> StepResult<Status> {
    conversation.send(step, line).await?;
    status(conversation, step).await
}

/// CAPA; a server without it (`-ERR`) has no capabilities to report.
async fn capa(conversation: &mut Conversation<'_>) -> StepResult<Vec<String>> {
    conversation.send(Step::Capa, "CAPA").await?;
    match status(conversation, Step::Capa).await {
        Ok(_) => {}
        Err((_, Failure::PopError { .. })) => return Ok(Vec::new()),
        Err(error) => return Err(error),
    }
    let mut capabilities = Vec::new();
    conversation
        .receive(Step::Capa, |line| {
            if line == b"." {
                return Ok(Some(()));
            }
            let line = line.strip_prefix(b".").unwrap_or(line);
            capabilities.push(String::from_utf8_lossy(line).into_owned());
            Ok(None)
        })
        .await?;
    Ok(capabilities)
}
