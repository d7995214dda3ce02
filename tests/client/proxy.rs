//! A loopback TCP proxy that can break one stream connection on purpose: the next `GET` of a
//! `/stream` URL is cut off after a given number of SSE events, as a flaky network would.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The proxy; it stops accepting when dropped.
pub struct DroppingProxy {
    pub url: String,
    /// Connections cut so far.
    cut: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DroppingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DroppingProxy {
    /// Proxies to `upstream` (`http://host:port`); the first `GET .../stream` is cut after
    /// `after_events` events went through.
    pub async fn start(upstream: &str, after_events: usize) -> DroppingProxy {
        let target = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let cut = Arc::new(AtomicUsize::new(0));
        let armed = Arc::new(AtomicUsize::new(1));
        let cut2 = Arc::clone(&cut);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let target = target.clone();
                let cut = Arc::clone(&cut2);
                let armed = Arc::clone(&armed);
                tokio::spawn(async move {
                    let _ = relay(client, &target, after_events, &armed, &cut).await;
                });
            }
        });
        DroppingProxy { url, cut, task }
    }

    /// How many connections were cut.
    pub fn cuts(&self) -> usize {
        self.cut.load(Ordering::SeqCst)
    }
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

async fn relay(
    client: TcpStream,
    target: &str,
    after_events: usize,
    armed: &AtomicUsize,
    cut: &AtomicUsize,
) -> std::io::Result<()> {
    let upstream = TcpStream::connect(target).await?;
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream.into_split();
    // Requests go through as they are; the one to break is spotted on the way (a pooled
    // connection carries several requests, one after the other).
    let doomed = Arc::new(AtomicBool::new(false));
    let doomed_up = Arc::clone(&doomed);
    let armed_up = armed.load(Ordering::SeqCst) == 1;
    let armed_flag = Arc::new(AtomicBool::new(armed_up));
    let armed_flag_up = Arc::clone(&armed_flag);
    let up = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let head = String::from_utf8_lossy(&buf[..n]);
            if armed_flag_up.load(Ordering::SeqCst)
                && head.lines().any(|l| l.starts_with("GET ") && l.contains("/stream"))
            {
                doomed_up.store(true, Ordering::SeqCst);
            }
            if uw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = uw.shutdown().await;
    });
    let mut buf = vec![0u8; 16 * 1024];
    let mut seen = 0;
    let mut tail: Vec<u8> = Vec::new();
    let mut claimed = false;
    loop {
        let n = ur.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        cw.write_all(&buf[..n]).await?;
        if !claimed && doomed.load(Ordering::SeqCst) {
            // Only one connection is broken per proxy.
            claimed = armed.compare_exchange(1, 0, Ordering::SeqCst, Ordering::SeqCst).is_ok();
            armed_flag.store(claimed, Ordering::SeqCst);
            if !claimed {
                doomed.store(false, Ordering::SeqCst);
            }
        }
        if claimed {
            // Count `event:` lines, also across read boundaries.
            let mut window = std::mem::take(&mut tail);
            window.extend_from_slice(&buf[..n]);
            seen += count(&window, b"\nevent:");
            let keep = window.len().min(6);
            tail = window[window.len() - keep..].to_vec();
            if seen >= after_events {
                cut.fetch_add(1, Ordering::SeqCst);
                // Abort both directions: the client sees the body break off mid-stream.
                up.abort();
                return Ok(());
            }
        }
    }
    let _ = cw.shutdown().await;
    Ok(())
}
