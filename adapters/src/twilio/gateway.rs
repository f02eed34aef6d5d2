//! The outbox's [`Gateway`] for Twilio: one [`TwilioClient`] per tenant account (kept while its
//! credentials stay the same), errors sorted into transient, permanent and uncertain.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::BoxFuture;
use heimdell_tools::outreach::outbox::{
    Account, Gateway, GatewayError, OutboundCall, OutboundSms, Sent,
};
use reqwest::Url;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::client::{CallEvent, CallRequest, SmsRequest, TwilioClient, TwilioError};

/// A tenant's client, with the account SID and a digest of the token it was built with.
type Cached = (String, [u8; 32], TwilioClient);

/// Twilio behind the outbox.
pub struct TwilioGateway {
    base_url: String,
    timeout: Duration,
    /// Per tenant: the account SID and a digest of the token the client was built with.
    clients: Mutex<HashMap<Uuid, Cached>>,
}

impl TwilioGateway {
    /// `base_url` is `HEIMDELL_TWILIO_BASE_URL`; `timeout` bounds each request (keep it well
    /// under the outbox lease).
    pub fn new(base_url: &str, timeout: Duration) -> TwilioGateway {
        TwilioGateway {
            base_url: base_url.to_string(),
            timeout,
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn client(&self, account: &Account) -> Result<TwilioClient, GatewayError> {
        let digest: [u8; 32] = Sha256::digest(account.auth_token.expose_secret().as_bytes()).into();
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| GatewayError::Transient("Twilio client cache unavailable".into()))?;
        if let Some((sid, d, client)) = clients.get(&account.tenant_id)
            && *sid == account.account_sid
            && *d == digest
        {
            return Ok(client.clone());
        }
        let client = TwilioClient::new(
            &self.base_url,
            &account.account_sid,
            account.auth_token.clone(),
            self.timeout,
        )
        .map_err(|e| GatewayError::Permanent(e.to_string()))?;
        clients.insert(
            account.tenant_id,
            (account.account_sid.clone(), digest, client.clone()),
        );
        Ok(client)
    }
}

fn gateway_error(e: TwilioError) -> GatewayError {
    match e {
        TwilioError::Transient { .. } => GatewayError::Transient(e.to_string()),
        TwilioError::Permanent { .. } | TwilioError::Invalid(_) => {
            GatewayError::Permanent(e.to_string())
        }
        TwilioError::Decode(_) => GatewayError::Uncertain(e.to_string()),
    }
}

fn url(text: &str) -> Result<Url, GatewayError> {
    Url::parse(text).map_err(|e| GatewayError::Permanent(format!("callback URL {text:?}: {e}")))
}

impl Gateway for TwilioGateway {
    fn send_sms<'a>(
        &'a self,
        account: &'a Account,
        sms: OutboundSms<'a>,
    ) -> BoxFuture<'a, Result<Sent, GatewayError>> {
        Box::pin(async move {
            let client = self.client(account)?;
            let status_callback = sms.status_callback.as_deref().map(url).transpose()?;
            let sent = client
                .send_sms(&SmsRequest {
                    from: sms.from,
                    to: sms.to,
                    body: sms.body,
                    status_callback,
                    idempotency_key: sms.idempotency_key,
                })
                .await
                .map_err(gateway_error)?;
            Ok(Sent {
                sid: sent.sid,
                status: sent.status.as_str().to_string(),
            })
        })
    }

    fn start_call<'a>(
        &'a self,
        account: &'a Account,
        call: OutboundCall<'a>,
    ) -> BoxFuture<'a, Result<Sent, GatewayError>> {
        Box::pin(async move {
            let client = self.client(account)?;
            let status_callback = call.status_callback.as_deref().map(url).transpose()?;
            let sent = client
                .start_call(&CallRequest {
                    from: call.from,
                    to: call.to,
                    url: url(&call.voice_url)?,
                    status_callback,
                    status_callback_events: &CallEvent::ALL,
                    // Recording, when the tenant wants it, starts at <Dial> after the notice.
                    record: false,
                    idempotency_key: call.idempotency_key,
                })
                .await
                .map_err(gateway_error)?;
            Ok(Sent {
                sid: sent.sid,
                status: sent.status.as_str().to_string(),
            })
        })
    }
}
