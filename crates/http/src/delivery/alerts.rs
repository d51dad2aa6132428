//! Mail to a webhook's `alertEmails` when its deliveries disable it, over SMTP (lettre) when the
//! operator configured a server; without one the disabling is still journalled and logged, and
//! the server says at start-up that no mail will be sent.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use openmonime_domain::webhook_retry::DisableReason;
use openmonime_store::deliveries::Disabled;

/// Where alert mail goes out, if anywhere.
#[derive(Clone, Default)]
pub struct Alerts {
    mailer: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
}

impl Alerts {
    /// No mail: disabling is journalled and logged only.
    pub fn none() -> Alerts {
        Alerts::default()
    }

    /// Mail through the SMTP server at `url` (`smtp://host:port`, `smtp://…?tls=required` for
    /// STARTTLS, `smtps://` for TLS; credentials in the URL), from `from`.
    pub fn smtp(url: &str, from: &str) -> Result<Alerts, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("the SMTP URL is not usable: {e}"))?
            .build();
        let from: Mailbox = from.parse().map_err(|e| format!("the alert sender `{from}` is not an address: {e}"))?;
        Ok(Alerts { mailer: Some((transport, from)) })
    }

    pub fn configured(&self) -> bool {
        self.mailer.is_some()
    }

    /// Tells the webhook's alert addresses that it was disabled, and why.
    pub async fn webhook_disabled(&self, disabled: &Disabled) {
        let Some((transport, from)) = &self.mailer else { return };
        let why = match disabled.reason {
            DisableReason::Gone => "its receiver answered 410 Gone",
            DisableReason::FailingTooLong => "every delivery to it has failed for five days",
        };
        let text = format!(
            "The webhook \"{}\" ({}) of Space {} ({}) was disabled because {why}.\n\n\
             It delivered to {}. Its undelivered events are kept: enable it again (PATCH /v1/webhooks/{} \
             with {{\"enabled\": true}}) and they are delivered on their schedule; the delivery log \
             (GET /v1/webhooks/{}/deliveries) shows every attempt.\n",
            disabled.name,
            disabled.webhook,
            disabled.tenant.space_id,
            disabled.tenant.environment.as_str(),
            disabled.url,
            disabled.webhook,
            disabled.webhook,
        );
        for to in &disabled.alert_emails {
            let Ok(to) = to.parse::<Mailbox>() else { continue };
            let message = Message::builder()
                .from(from.clone())
                .to(to)
                .subject(format!("openmonime: webhook \"{}\" disabled", disabled.name))
                .body(text.clone());
            let sent = match message {
                Ok(message) => transport.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match sent {
                Ok(()) => tracing::info!(webhook = %disabled.webhook, "alert mail sent"),
                Err(error) => tracing::warn!(webhook = %disabled.webhook, %error, "alert mail not sent"),
            }
        }
    }
}
