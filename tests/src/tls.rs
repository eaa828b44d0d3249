//! A throwaway PKI for TLS tests, made with the `openssl` command line: a CA, a server
//! certificate for `localhost`, and client certificates with the DNS names a test asks for.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// A CA and the certificates it signed, as PEM files in a temporary directory.
pub struct Pki {
    dir: PathBuf,
}

/// A certificate and its key, PEM.
pub struct Pem {
    /// The certificate.
    pub cert: String,
    /// Its private key.
    pub key: String,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl command (deploy/local/test.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    /// A new CA (named `name`) with a server certificate for `localhost` and 127.0.0.1.
    pub fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!(
            "fallwerk-pki-{}-{name}-{}",
            std::process::id(),
            uuid::Uuid::now_v7()
        ));
        std::fs::create_dir_all(&dir).expect("pki dir");
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "1",
                "-subj",
                &format!("/CN={name}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        let pki = Pki { dir };
        pki.issue("server", "DNS:localhost,IP:127.0.0.1");
        pki
    }

    /// Issues a leaf certificate `file` with the subject alternative names `san`.
    fn issue(&self, file: &str, san: &str) -> Pem {
        let ext = format!(
            "subjectAltName={san}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n"
        );
        std::fs::write(self.dir.join(format!("{file}.ext")), ext).expect("ext");
        openssl(
            &self.dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{file}.key"),
                "-out",
                &format!("{file}.csr"),
                "-subj",
                &format!("/CN={file}"),
            ],
        );
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{file}.csr"),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{file}.crt"),
                "-days",
                "1",
                "-extfile",
                &format!("{file}.ext"),
            ],
        );
        self.pem(file)
    }

    /// A client certificate valid for the DNS name `dns`.
    pub fn client(&self, file: &str, dns: &str) -> Pem {
        self.issue(file, &format!("DNS:{dns}"))
    }

    fn pem(&self, file: &str) -> Pem {
        let read = |ext: &str| {
            std::fs::read_to_string(self.dir.join(format!("{file}.{ext}"))).expect("pem")
        };
        Pem {
            cert: read("crt"),
            key: read("key"),
        }
    }

    /// The CA's certificate, PEM.
    pub fn ca(&self) -> String {
        std::fs::read_to_string(self.dir.join("ca.crt")).expect("ca")
    }

    /// Paths of the CA certificate, the server certificate and its key.
    pub fn server_files(&self) -> (PathBuf, PathBuf, PathBuf) {
        (
            self.dir.join("ca.crt"),
            self.dir.join("server.crt"),
            self.dir.join("server.key"),
        )
    }
}
