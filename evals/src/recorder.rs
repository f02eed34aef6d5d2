//! A model wrapper that keeps every request the runtime sent to the model it wraps, so the
//! checks can see exactly what the model was shown (tool results, system prompt) whatever the
//! model is: the built-in planner, a scripted one, or a remote one.

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use heimdell_agent::model::{ChatModel, ModelError, ModelReply, ModelRequest};

pub struct Recorder {
    inner: Arc<dyn ChatModel>,
    /// Every request, in order, with the reply it got (None when the model failed).
    seen: Mutex<Vec<(ModelRequest, Option<ModelReply>)>>,
}

impl Recorder {
    pub fn new(inner: Arc<dyn ChatModel>) -> Self {
        Recorder {
            inner,
            seen: Mutex::new(Vec::new()),
        }
    }

    pub fn exchanges(&self) -> Vec<(ModelRequest, Option<ModelReply>)> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl ChatModel for Recorder {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn complete<'a>(
        &'a self,
        req: &'a ModelRequest,
    ) -> BoxFuture<'a, Result<ModelReply, ModelError>> {
        Box::pin(async move {
            let out = self.inner.complete(req).await;
            if let Ok(mut seen) = self.seen.lock() {
                seen.push((req.clone(), out.as_ref().ok().cloned()));
            }
            out
        })
    }
}
