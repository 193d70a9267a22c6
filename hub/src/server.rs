//! The HTTP server: configuration, the one routing table, and the layers
//! every request passes (Host check, security headers).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use pencil_core::classroom::{MAX_EVENTS_BODY, MAX_HANDS_BODY};
use pencil_core::research::MAX_UPLOAD_BODY;

use crate::store::Store;
use crate::{api, hands, html, research, web};

/// Resolved settings of `pencil-hub serve`.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Host header values accepted besides the listen address itself
    /// (the names a remote hub is reached by).
    pub extra_hosts: Vec<String>,
    /// A student with no event for this long is shown as idle.
    pub idle_after_secs: i64,
    /// Serve HTTPS with this certificate chain and key (PEM files).
    pub tls: Option<TlsFiles>,
    /// Load balancers whose `X-Forwarded-For` is believed (their own
    /// address is what every request behind them comes from).
    pub trusted_proxies: Vec<IpAddr>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub(crate) struct AppState {
    pub store: Store,
    pub allowed_hosts: Vec<String>,
    pub idle_after_secs: i64,
    /// Cookies get `Secure` when the hub serves TLS itself.
    pub secure_cookies: bool,
    pub trusted_proxies: Vec<IpAddr>,
}

impl AppState {
    /// The address a request comes from, for per-address limits.
    pub(crate) fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        client_ip(&self.trusted_proxies, peer, headers)
    }
}

/// The peer's address, or, when the peer is a trusted proxy, the last address
/// in `X-Forwarded-For` that is not a trusted proxy (what a client wrote
/// further left could be forged). A malformed header is not believed at all.
pub fn client_ip(trusted: &[IpAddr], peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    if !trusted.contains(&peer.ip()) {
        return peer.ip();
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|a| a.trim().parse::<IpAddr>())
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    forwarded.into_iter().rev().find(|ip| !trusted.contains(ip)).unwrap_or(peer.ip())
}

pub(crate) type SharedState = Arc<AppState>;

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Refuses a non-loopback listen address unless the operator said so: a hub
/// on a LAN address serves plain HTTP to the whole network.
pub fn check_listen(addr: SocketAddr, allow_remote: bool) -> Result<()> {
    if !addr.ip().is_loopback() && !allow_remote {
        bail!("refusing to listen on {addr}, which is not a loopback address; pass --allow-remote to serve other machines");
    }
    Ok(())
}

/// Host values a browser sends for this listener. A DNS-rebinding page
/// reaches loopback under its own name, so anything else is refused.
fn allowed_hosts(local: SocketAddr, extra: &[String]) -> Vec<String> {
    let port = local.port();
    let mut hosts = vec![local.to_string()];
    if local.ip().is_loopback() {
        hosts.push(format!("localhost:{port}"));
    }
    if port == 80 {
        hosts.push(local.ip().to_string());
        if local.ip().is_loopback() {
            hosts.push("localhost".into());
        }
    }
    hosts.extend(extra.iter().cloned());
    hosts.iter().map(|h| h.to_ascii_lowercase()).collect()
}

pub fn router(store: Store, local: SocketAddr, config: &Config) -> Router {
    let state = Arc::new(AppState {
        store,
        allowed_hosts: allowed_hosts(local, &config.extra_hosts),
        idle_after_secs: config.idle_after_secs,
        secure_cookies: config.tls.is_some(),
        trusted_proxies: config.trusted_proxies.clone(),
    });
    let api = Router::new()
        .route(
            "/api/v1/join",
            post(api::join).layer(DefaultBodyLimit::max(4 * 1024)),
        )
        .route("/api/v1/policy", get(api::policy))
        .route(
            "/api/v1/events",
            post(api::events).layer(DefaultBodyLimit::max(MAX_EVENTS_BODY)),
        )
        .route(
            "/api/v1/hands",
            post(hands::raise)
                .get(hands::list)
                .layer(DefaultBodyLimit::max(MAX_HANDS_BODY)),
        )
        .route("/api/v1/research/studies", get(research::studies))
        .route(
            "/api/v1/research/consent",
            post(research::consent).layer(DefaultBodyLimit::max(4 * 1024)),
        )
        .route(
            "/api/v1/research/upload",
            post(research::upload).layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY)),
        )
        .route(
            "/api/v1/research/revoke",
            post(research::revoke).layer(DefaultBodyLimit::max(4 * 1024)),
        );
    let pages = Router::new()
        .route("/", get(web::index))
        .route("/login", get(web::login_page).post(web::login))
        .route("/logout", post(web::logout))
        .route("/classes", get(web::classes).post(web::create_class))
        .route("/classes/{id}", get(web::dashboard))
        .route("/classes/{id}/code", post(web::new_code))
        .route("/classes/{id}/hands/{seq}", post(web::answer_hand))
        .route(
            "/classes/{id}/policy",
            get(web::policy_page).post(web::save_policy),
        )
        .route("/static/hub.css", get(css))
        .layer(DefaultBodyLimit::max(64 * 1024));
    api.merge(pages)
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn_with_state(state.clone(), check_host))
        .with_state(state)
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        html::CSS,
    )
        .into_response()
}

async fn check_host(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    match host {
        Some(h) if state.allowed_hosts.contains(&h) => next.run(request).await,
        _ => (
            StatusCode::MISDIRECTED_REQUEST,
            "this hub does not answer to that Host name\n",
        )
            .into_response(),
    }
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Loads the certificate chain and key for `--tls-cert`/`--tls-key`.
fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading certificates from {}", files.cert.display()))?;
    if certs.is_empty() {
        bail!("{} holds no certificate", files.cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("reading the private key from {}", files.key.display()))?;
    // ring rather than aws-lc-rs: it builds without cmake or NASM. rustls
    // deprecates it for lacking post-quantum key exchange, which a classroom
    // hub's short-lived session traffic can do without for now.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the certificate and key do not form a usable pair")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Binds, prints `pencil-hub listening on http(s)://ADDR` on stdout (the
/// bound address, so `--listen 127.0.0.1:0` is usable by scripts), and
/// serves until the process ends.
pub async fn serve(store: Store, config: Config) -> Result<()> {
    // Load the certificate before binding, so a bad one fails fast.
    let acceptor = config.tls.as_ref().map(tls_acceptor).transpose()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let local = listener.local_addr()?;
    let app = router(store, local, &config);
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    println!("pencil-hub listening on {scheme}://{local}");
    use std::io::Write as _;
    std::io::stdout().flush()?;
    let Some(acceptor) = acceptor else {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await?;
        return Ok(());
    };
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors and the like: back off, keep serving.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let stream = match acceptor.accept(tcp).await {
                Ok(s) => s,
                Err(e) => return tracing::debug!("TLS handshake with {peer}: {e}"),
            };
            let service = hyper_util::service::TowerToHyperService::new(
                app.layer(axum::Extension(axum::extract::ConnectInfo(peer))),
            );
            let served = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!("connection from {peer}: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("test address");
        let proxy: SocketAddr = "10.0.0.2:5000".parse().expect("test address");
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 192.0.2.7, 10.0.0.3"));
        // An untrusted peer: the header is ignored.
        assert_eq!(client_ip(&[], proxy, &headers), proxy.ip());
        // Behind two trusted proxies: the last address they did not add; the (forgeable) left part is skipped.
        let trusted = [ip("10.0.0.2"), ip("10.0.0.3")];
        assert_eq!(client_ip(&trusted, proxy, &headers), ip("192.0.2.7"));
        // Malformed or missing: the proxy itself, so all such requests share one limit.
        headers.insert("x-forwarded-for", HeaderValue::from_static("not an address"));
        assert_eq!(client_ip(&trusted, proxy, &headers), proxy.ip());
        assert_eq!(client_ip(&trusted, proxy, &HeaderMap::new()), proxy.ip());
    }
}
