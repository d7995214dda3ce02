//! Run webhooks: a run created with `webhook` POSTs its outcome there when it ends (the Run
//! with its final status, `run_started_at`, `run_ended_at`, `webhook_sent_at`, the final
//! `values` and, when it failed, `error`; golden `90_webhook.txt`).
//!
//! URLs are checked when the run is created, under the policy of `langgraph.json`'s
//! `webhooks.url` as LangGraph Server applies it: loopback targets (and relative URLs) are
//! refused unless `disable_loopback` is false, `https` is required when the project has a
//! `webhooks` block (until `require_https` is false), `allowed_domains`, `allowed_ports`,
//! `max_url_length`, `disable_private_ips`; link-local and unspecified addresses (cloud metadata
//! endpoints) are always refused.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::{Map, Value};

/// The webhook policy of a server.
#[derive(Debug, Clone)]
pub struct WebhookPolicy {
    max_url_length: usize,
    require_https: bool,
    disable_loopback: bool,
    disable_private_ips: bool,
    allowed_domains: Vec<String>,
    allowed_ports: Option<Vec<u16>>,
    /// Headers sent with every webhook.
    headers: Vec<(String, String)>,
    /// Only these payload fields are sent, when set.
    allowed_fields: Option<Vec<String>>,
    /// `http.disable_webhooks`: runs keep their `webhook` but nothing is sent.
    disabled: bool,
}

impl Default for WebhookPolicy {
    fn default() -> Self {
        WebhookPolicy {
            max_url_length: 4096,
            require_https: false,
            disable_loopback: true,
            disable_private_ips: false,
            allowed_domains: Vec::new(),
            allowed_ports: None,
            headers: Vec::new(),
            allowed_fields: None,
            disabled: false,
        }
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_lowercase).collect())
        .unwrap_or_default()
}

impl WebhookPolicy {
    /// The policy of a project (the defaults without one).
    pub fn of_project(project: Option<&orrery_graph_file::Project>) -> WebhookPolicy {
        let mut p = WebhookPolicy::default();
        let Some(config) = project.map(|p| &p.config) else { return p };
        p.disabled = config.http.as_ref().and_then(|h| h.disable_webhooks).unwrap_or(false);
        let Some(w) = &config.webhooks else { return p };
        // With a `webhooks` block, the CLI's defaults require https.
        p.require_https = true;
        if let Some(url) = w.url.as_ref().and_then(Value::as_object) {
            let flag =
                |k: &str, default: bool| url.get(k).and_then(Value::as_bool).unwrap_or(default);
            p.require_https = flag("require_https", true);
            p.disable_loopback = flag("disable_loopback", true);
            p.disable_private_ips = flag("disable_private_ips", false);
            p.allowed_domains = strings(url.get("allowed_domains"));
            p.allowed_ports = url.get("allowed_ports").and_then(Value::as_array).map(|a| {
                a.iter().filter_map(|v| v.as_u64().and_then(|n| u16::try_from(n).ok())).collect()
            });
            if let Some(n) = url.get("max_url_length").and_then(Value::as_u64) {
                p.max_url_length = usize::try_from(n).unwrap_or(usize::MAX);
            }
        }
        if let Some(h) = w.headers.as_ref().and_then(Value::as_object) {
            p.headers = h
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect();
        }
        p.allowed_fields = w.other.get("allowed_fields").map(|v| strings(Some(v)));
        p
    }

    /// Checks a run's webhook URL; `Err` is the 422 detail.
    pub async fn check(&self, url: &str) -> Result<(), String> {
        if url.len() > self.max_url_length {
            return Err("Webhook URL too long".into());
        }
        if url.starts_with('/') {
            return Err(if self.disable_loopback {
                "Loopback webhooks (relative URLs and localhost) are disabled by default. Set webhooks.url.disable_loopback to false in langgraph.json to allow them.".into()
            } else {
                "Relative webhook URLs are not supported by this server; give the full URL".into()
            });
        }
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("Invalid webhook URL: {e}"))?;
        let scheme = parsed.scheme();
        if scheme != "http" && scheme != "https" {
            return Err(format!("Invalid webhook URL scheme '{scheme}': expected http or https"));
        }
        if self.require_https && scheme != "https" {
            return Err("Webhook must use https".into());
        }
        if let Some(ports) = &self.allowed_ports {
            let port = parsed.port_or_known_default().unwrap_or(0);
            if !ports.contains(&port) {
                return Err(format!("Webhook port {port} not allowed"));
            }
        }
        let host = parsed.host_str().unwrap_or_default().to_lowercase();
        if host.is_empty() {
            return Err(format!("Invalid webhook hostname '{host}'"));
        }
        let listed = self.allowed_domains.iter().any(|d| match d.strip_prefix("*.") {
            Some(base) => host.ends_with(&format!(".{base}")),
            None => *d == host,
        });
        if !self.allowed_domains.is_empty() && !listed {
            return Err("Webhook domain not allowed".into());
        }
        if self.allowed_domains.contains(&host) {
            return Ok(()); // named explicitly: trusted
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<IpAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) if bare == "localhost" || bare.ends_with(".localhost") => {
                vec![IpAddr::from([127, 0, 0, 1])]
            }
            Err(_) => {
                let port = parsed.port_or_known_default().unwrap_or(80);
                match tokio::time::timeout(
                    Duration::from_secs(5),
                    tokio::net::lookup_host((bare.to_string(), port)),
                )
                .await
                {
                    Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
                    _ => return Err(format!("Webhook host blocked: cannot resolve '{bare}'")),
                }
            }
        };
        for ip in addrs {
            if let Some(reason) = self.blocked(ip) {
                return Err(format!("Webhook host blocked: {reason}"));
            }
        }
        Ok(())
    }

    fn blocked(&self, ip: IpAddr) -> Option<String> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if ip.is_loopback() {
            return self.disable_loopback.then(|| format!("{ip} is a loopback address"));
        }
        let (link_local, private) = match ip {
            IpAddr::V4(v4) => (v4.is_link_local(), v4.is_private()),
            IpAddr::V6(v6) => {
                let seg = v6.segments()[0];
                (seg & 0xffc0 == 0xfe80, seg & 0xfe00 == 0xfc00)
            }
        };
        if ip.is_unspecified() || ip.is_multicast() || link_local {
            return Some(format!("{ip} is not a routable address"));
        }
        (private && self.disable_private_ips).then(|| format!("{ip} is a private address"))
    }
}

/// Sends webhooks.
pub struct Webhooks {
    policy: WebhookPolicy,
    /// Made with the first webhook: building a client sets up TLS (root certificates, the
    /// crypto provider), code and memory a server that sends none should not spend at start.
    http: std::sync::OnceLock<reqwest::Client>,
}

impl Webhooks {
    /// Webhooks under `policy`.
    pub fn new(policy: WebhookPolicy) -> Webhooks {
        Webhooks { policy, http: std::sync::OnceLock::new() }
    }

    fn http(&self) -> reqwest::Client {
        self.http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap_or_else(|_| reqwest::Client::new())
            })
            .clone()
    }

    /// The policy URLs are checked against.
    pub fn policy(&self) -> &WebhookPolicy {
        &self.policy
    }

    /// POSTs `payload` to `url` in the background (the URL is checked again: the policy may
    /// have changed since the run was created). Failures are logged.
    pub fn send(&self, url: String, mut payload: Map<String, Value>) {
        if self.policy.disabled {
            tracing::info!(webhook = %url, "webhooks are disabled (http.disable_webhooks): not sent");
            return;
        }
        if let Some(fields) = &self.policy.allowed_fields {
            payload.retain(|k, _| fields.contains(&k.to_lowercase()));
        }
        let (policy, http) = (self.policy.clone(), self.http());
        tokio::spawn(async move {
            if let Err(why) = policy.check(&url).await {
                tracing::warn!(webhook = %url, "webhook not sent: {why}");
                return;
            }
            let mut req = http.post(&url).json(&payload);
            for (k, v) in &policy.headers {
                req = req.header(k, v);
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => tracing::info!(webhook = %url, "webhook sent"),
                Ok(r) => {
                    tracing::warn!(webhook = %url, status = %r.status(), "webhook answered with an error")
                }
                Err(e) => tracing::warn!(webhook = %url, "calling the webhook failed: {e}"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_default_policy_refuses_loopback_relative_and_metadata_urls() {
        let p = WebhookPolicy::default();
        assert!(p.check("http://127.0.0.1:9/hook").await.unwrap_err().contains("loopback"));
        assert!(p.check("http://localhost/hook").await.unwrap_err().contains("loopback"));
        assert!(p.check("http://[::1]:80/hook").await.unwrap_err().contains("loopback"));
        assert!(p.check("/runs").await.unwrap_err().contains("disable_loopback"));
        assert!(p.check("http://169.254.169.254/latest").await.unwrap_err().contains("routable"));
        assert!(p.check("ftp://example.com/x").await.unwrap_err().contains("scheme"));
        assert!(
            p.check(&format!("http://10.0.0.1/{}", "a".repeat(5000)))
                .await
                .unwrap_err()
                .contains("too long")
        );
        assert_eq!(
            p.check("http://10.1.2.3:8080/hook").await,
            Ok(()),
            "private IPs are allowed by default"
        );
    }

    #[tokio::test]
    async fn a_project_policy_opens_loopback_and_requires_https_unless_told_otherwise() {
        let mut p =
            WebhookPolicy { require_https: true, disable_loopback: false, ..Default::default() };
        assert_eq!(p.check("http://127.0.0.1:9/h").await.unwrap_err(), "Webhook must use https");
        p.require_https = false;
        assert_eq!(p.check("http://127.0.0.1:9/h").await, Ok(()));
        p.allowed_ports = Some(vec![443]);
        assert_eq!(
            p.check("http://127.0.0.1:9/h").await.unwrap_err(),
            "Webhook port 9 not allowed"
        );
        p.allowed_ports = None;
        p.allowed_domains = vec!["*.example.com".into()];
        assert_eq!(
            p.check("http://127.0.0.1:9/h").await.unwrap_err(),
            "Webhook domain not allowed"
        );
        p.disable_private_ips = true;
        p.allowed_domains.clear();
        assert!(p.check("http://192.168.1.1/h").await.unwrap_err().contains("private"));
    }
}
