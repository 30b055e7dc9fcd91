//! A SOCKS5 server whose users live in a file of `user:password` lines (`#` starts a comment). The file
//! is read on every login, so edits apply to the next client without a restart.
//!
//! ```text
//! printf 'alice:s3cret\n' > users.txt
//! cargo run -p gost-service --example file_authenticator -- users.txt 127.0.0.1:1080
//! curl -x socks5h://alice:s3cret@127.0.0.1:1080 http://example.com/
//! ```

use std::path::PathBuf;

use gost_service::{
    AuthRequest, Authenticator, BoxFuture, BuildError, Service, ServiceBuilder, Users,
};

#[path = "shared/ctrl_c.rs"]
mod ctrl_c;
use ctrl_c::serve_until_ctrl_c;

/// Users read from a file at each authentication.
pub(crate) struct FileUsers {
    path: PathBuf,
}

impl FileUsers {
    /// Users listed in the file at `path`.
    pub(crate) fn new(path: impl Into<PathBuf>) -> FileUsers {
        FileUsers { path: path.into() }
    }

    /// The users in the file now; an unreadable file means nobody gets in.
    async fn load(&self) -> Users {
        // File reads block: keep them off the async workers.
        let path = self.path.clone();
        let text = match tokio::task::spawn_blocking(move || std::fs::read_to_string(path)).await {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot read users file");
                return Users::default();
            }
            Err(e) => {
                tracing::warn!(error = %e, "users file reader failed");
                return Users::default();
            }
        };
        let pairs = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once(':'))
            .map(|(u, p)| (u.to_owned(), p.to_owned()));
        Users::new(pairs)
    }
}

impl Authenticator for FileUsers {
    fn authenticate<'a>(&'a self, req: &'a AuthRequest<'a>) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let users = self.load().await;
            // An empty file must not turn authentication off: nobody matches an empty list.
            !users.is_empty() && users.check(req.user, req.password)
        })
    }
}

/// SOCKS5 on `addr`, letting in the users listed in `users_file`.
pub(crate) async fn server(
    addr: &str,
    users_file: impl Into<PathBuf>,
) -> Result<Service, BuildError> {
    ServiceBuilder::socks5()
        .name("socks5-file-auth")
        .bind(addr)
        .auth(FileUsers::new(users_file))
        .build()
        .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .ok_or("usage: file_authenticator USERS_FILE [ADDR]")?;
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:1080".into());
    let service = server(&addr, file).await?;
    serve_until_ctrl_c(service, "SOCKS5 proxy with file users").await;
    Ok(())
}
