//! TLS and mutual TLS.

use crate::helpers::TestApp;
use contactd::domain::SystemClock;
use contactd::pb::{self, contact_service_client::ContactServiceClient};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use std::path::PathBuf;
use std::sync::Arc;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// A CA, a server certificate for "localhost" and a client certificate, as PEM files.
struct Pki {
    dir: tempfile::TempDir,
    ca: String,
    client_cert: String,
    client_key: String,
}

impl Pki {
    fn new() -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |name: &str| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(vec![name.to_string()])
                .unwrap()
                .signed_by(&key, &issuer)
                .unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf("localhost");
        let (client_cert, client_key) = leaf("campaign-dialer");
        let dir = tempfile::tempdir().unwrap();
        for (name, pem) in [
            ("ca.pem", ca_cert.pem()),
            ("server.pem", server_cert),
            ("server.key", server_key),
        ] {
            std::fs::write(dir.path().join(name), pem).unwrap();
        }
        Pki {
            dir,
            ca: ca_cert.pem(),
            client_cert,
            client_key,
        }
    }

    fn path(&self, name: &str) -> Option<PathBuf> {
        Some(self.dir.path().join(name))
    }

    async fn client(
        &self,
        app: &TestApp,
        with_identity: bool,
    ) -> Result<ContactServiceClient<Channel>, tonic::transport::Error> {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca))
            .domain_name("localhost");
        if with_identity {
            tls = tls.identity(Identity::from_pem(&self.client_cert, &self.client_key));
        }
        let channel = Channel::from_shared(format!("https://localhost:{}", app.addr.port()))
            .unwrap()
            .tls_config(tls)?
            .connect()
            .await?;
        Ok(ContactServiceClient::new(channel))
    }
}

async fn create_account(client: &mut ContactServiceClient<Channel>) -> Result<(), tonic::Status> {
    client
        .create_account(pb::CreateAccountRequest {
            name: "x".into(),
            plan: pb::Plan::Dental as i32,
            ..Default::default()
        })
        .await
        .map(|_| ())
}

both!(
    serves_grpc_over_tls,
    mutual_tls_refuses_clients_without_a_certificate
);

async fn serves_grpc_over_tls(app: TestApp) {
    let pki = Pki::new();
    let tls_app = TestApp::spawn_configured(app.db.clone(), Arc::new(SystemClock), |s| {
        s.tls_cert = pki.path("server.pem");
        s.tls_key = pki.path("server.key");
    })
    .await;
    let mut client = pki.client(&tls_app, false).await.expect("TLS handshake");
    create_account(&mut client).await.unwrap();
    // A plaintext client gets nowhere.
    assert!(create_account(&mut tls_app.client.clone()).await.is_err());
}

async fn mutual_tls_refuses_clients_without_a_certificate(app: TestApp) {
    let pki = Pki::new();
    let tls_app = TestApp::spawn_configured(app.db.clone(), Arc::new(SystemClock), |s| {
        s.tls_cert = pki.path("server.pem");
        s.tls_key = pki.path("server.key");
        s.tls_client_ca = pki.path("ca.pem");
    })
    .await;
    let mut with_cert = pki
        .client(&tls_app, true)
        .await
        .expect("mutual TLS handshake");
    create_account(&mut with_cert).await.unwrap();
    match pki.client(&tls_app, false).await {
        Err(_) => {}
        Ok(mut anonymous) => assert!(create_account(&mut anonymous).await.is_err()),
    }
}
