//! The client's TLS: rustls on the `ring` provider, the system's trust store.

use std::sync::Arc;

use rustls::ClientConfig;
use rustls_platform_verifier::BuilderVerifierExt as _;

/// A rustls configuration that names its crypto provider itself.
///
/// reqwest's own rustls setup either pulls aws-lc-rs (a C and CMake build) or
/// panics unless a process-wide default provider was installed; handing it a
/// finished configuration avoids both and leaves the process default alone.
/// Certificates are verified against the operating system's roots (so a
/// company CA installed there is honoured). Only HTTP/1.1 is offered.
pub(crate) fn client_config() -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_platform_verifier()?
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_with_ring_and_offers_only_http1() {
        let config = client_config().unwrap();
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
        assert!(config.enable_sni);
        // The process-wide default is not touched.
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    }
}
