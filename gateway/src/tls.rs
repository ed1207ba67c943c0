//! HTTPS for the listener: `[server] tls_cert` / `tls_key` (PEM) turn on rustls (ring
//! provider), `tls_client_ca` adds client-certificate authentication for ingest.
//!
//! The TLS handshake runs in its own task per connection (a slow or silent client cannot
//! hold up the others) and finished streams are handed to `axum::serve` through the
//! [`axum::serve::Listener`] trait, so the router, its layers and graceful shutdown stay
//! exactly those of plain HTTP.
//!
//! Client certificates: with `tls_client_ca` the server asks every client for a certificate
//! and refuses the handshake when one is presented that the CA did not sign. A client may
//! still connect without one (auditors and admins authenticate by key alone); a request
//! authenticated by an **ingest** key on such a connection is refused with 403
//! `client_certificate_required` (see `http::auth`).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::ServerConfig;

/// Longest time a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Finished handshakes waiting for `axum::serve` to take them.
const ACCEPTED_BACKLOG: usize = 128;

/// A TLS setting that cannot be used; the message names the configuration key and file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("server.tls_cert and server.tls_key: give both or neither (only {given} is set)")]
    Incomplete { given: &'static str },
    #[error("server.tls_client_ca needs server.tls_cert and server.tls_key (client certificates need HTTPS)")]
    ClientCaWithoutTls,
    #[error("{key} {path}: {message}")]
    File { key: &'static str, path: String, message: String },
    #[error("the TLS provider cannot be set up: {0}")]
    Provider(String),
    #[error("server.tls_key {key} does not belong to the certificate in server.tls_cert {cert}: {message}")]
    Mismatch { cert: String, key: String, message: String },
}

/// What the router knows of a request's connection, as `ConnectInfo<Connection>`: the peer's
/// address (the self-audit's `ip`) and whether it presented a client certificate that
/// `tls_client_ca` verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    pub peer: SocketAddr,
    pub client_certificate_verified: bool,
}

impl Connected<IncomingStream<'_, TcpListener>> for Connection {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Connection { peer: *stream.remote_addr(), client_certificate_verified: false }
    }
}

/// Marks a router whose ingest routes need a verified client certificate (set as a
/// request extension when `tls_client_ca` is configured).
#[derive(Debug, Clone, Copy)]
pub struct ClientCertificateRequired;

/// True when the request comes in on a gateway that requires client certificates for
/// ingest and its connection has none (or none verified).
pub fn client_certificate_missing(extensions: &axum::http::Extensions) -> bool {
    extensions.get::<ClientCertificateRequired>().is_some()
        && !extensions
            .get::<axum::extract::ConnectInfo<Connection>>()
            .is_some_and(|info| info.0.client_certificate_verified)
}

/// The rustls configuration of `[server]`, or `None` for plain HTTP.
pub fn server_config(server: &ServerConfig) -> Result<Option<Arc<rustls::ServerConfig>>, TlsError> {
    let (cert_path, key_path) = match (&server.tls_cert, &server.tls_key) {
        (None, None) if server.tls_client_ca.is_some() => return Err(TlsError::ClientCaWithoutTls),
        (None, None) => return Ok(None),
        (Some(_), None) => return Err(TlsError::Incomplete { given: "server.tls_cert" }),
        (None, Some(_)) => return Err(TlsError::Incomplete { given: "server.tls_key" }),
        (Some(c), Some(k)) => (c, k),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = load_certificates("server.tls_cert", cert_path)?;
    let key_pem = read_file("server.tls_key", key_path)?;
    // The key's own bytes never go into a message: only the PEM error's kind.
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::File {
        key: "server.tls_key",
        path: key_path.display().to_string(),
        message: match e {
            rustls_pki_types::pem::Error::NoItemsFound => {
                "no private key in the file (expected a PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block)"
                    .into()
            }
            _ => "not a readable PEM private key".into(),
        },
    })?;
    let signing_key = provider.key_provider.load_private_key(key).map_err(|e| TlsError::File {
        key: "server.tls_key",
        path: key_path.display().to_string(),
        message: format!("unusable private key: {e}"),
    })?;
    let certified = rustls::sign::CertifiedKey::new(certs, signing_key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(e) => {
            return Err(TlsError::Mismatch {
                cert: cert_path.display().to_string(),
                key: key_path.display().to_string(),
                message: e.to_string(),
            });
        }
    }
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Provider(e.to_string()))?;
    let builder = match &server.tls_client_ca {
        None => builder.with_no_client_auth(),
        Some(ca_path) => builder.with_client_cert_verifier(client_verifier(ca_path, provider)?),
    };
    let mut config = builder.with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
    // HTTP/1.1 only: the router is served by axum without its `http2` feature.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}

/// Verifies client certificates against the CA bundle; clients without one still connect.
fn client_verifier(
    ca_path: &Path,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let file_error = |message: String| TlsError::File {
        key: "server.tls_client_ca",
        path: ca_path.display().to_string(),
        message,
    };
    let mut roots = RootCertStore::empty();
    for cert in load_certificates("server.tls_client_ca", ca_path)? {
        roots.add(cert).map_err(|e| file_error(format!("not a usable CA certificate: {e}")))?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .allow_unauthenticated()
        .build()
        .map_err(|e| file_error(e.to_string()))
}

fn read_file(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::File {
        key,
        path: path.display().to_string(),
        message: format!("cannot read the file: {e}"),
    })
}

/// Every certificate in a PEM file (at least one).
fn load_certificates(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_file(key, path)?;
    let error = |message: String| TlsError::File { key, path: path.display().to_string(), message };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(format!("not a readable PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(error("no certificate in the file (expected a PEM CERTIFICATE block)".into()));
    }
    Ok(certs)
}

/// Logs the one-line warning for plain HTTP beyond loopback.
pub fn warn_if_plain_beyond_loopback(addr: SocketAddr, tls: bool) {
    if !tls && !addr.ip().is_loopback() {
        tracing::warn!(
            "plain HTTP on non-loopback address {addr}: API keys and events cross the network unencrypted; set [server] tls_cert and tls_key"
        );
    }
}

/// The scheme the listener speaks, for the listening line.
pub fn scheme(tls: bool) -> &'static str {
    if tls { "https" } else { "http" }
}

/// Serves `router` on `listener` until `shutdown`: plain HTTP when `tls` is `None`.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    client_ca: bool,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    match tls {
        None => {
            let service = router.into_make_service_with_connect_info::<Connection>();
            axum::serve(listener, service).with_graceful_shutdown(shutdown).await
        }
        Some(config) => {
            let router =
                if client_ca { router.layer(axum::Extension(ClientCertificateRequired)) } else { router };
            let service = router.into_make_service_with_connect_info::<Connection>();
            axum::serve(TlsListener::new(listener, config), service).with_graceful_shutdown(shutdown).await
        }
    }
}

/// A TCP listener whose connections come out TLS-terminated.
pub struct TlsListener {
    local_addr: io::Result<SocketAddr>,
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    acceptor_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `listener`, each handshake in a task of its own.
    pub fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> Self {
        let local_addr = listener.local_addr();
        let (tx, accepted) = mpsc::channel(ACCEPTED_BACKLOG);
        let acceptor = TlsAcceptor::from(config);
        let acceptor_task = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(conn) => conn,
                    Err(e) => {
                        accept_error_pause(e).await;
                        continue;
                    }
                };
                let (acceptor, sender) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = sender.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
                if tx.is_closed() {
                    return;
                }
            }
        });
        Self { local_addr, accepted, acceptor_task }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor_task.abort();
    }
}

/// After a failed `accept`: per-connection errors are skipped, others (out of file
/// descriptors) are logged and given a moment to clear.
async fn accept_error_pause(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(conn) => conn,
            // The acceptor task ended (it only does when this listener is dropped).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        match &self.local_addr {
            Ok(addr) => Ok(*addr),
            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
        }
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Connection {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        Connection {
            peer: *stream.remote_addr(),
            // rustls only keeps a peer certificate that its verifier accepted.
            client_certificate_verified: stream.io().get_ref().1.peer_certificates().is_some(),
        }
    }
}
