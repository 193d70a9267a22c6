//! `pencil-lsp --listen`: the command-line side of the WebSocket listener. Makes
//! (or takes) this launch's token, hands it to an editor that asked for it, prints
//! the address the student opens, and serves (see `trust` for the rules).

use super::transport::{run_websocket, ListenConfig};
use super::trust::{parse_origin, Token, TOKEN_ENV};
use super::ServerOptions;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The listener's command-line options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ListenArgs {
    /// Serve LSP over WebSocket on this address instead of stdio (e.g. 127.0.0.1:7000),
    /// and the coach's page at http://ADDRESS/?token=… (printed at start).
    #[arg(long, value_name = "ADDRESS")]
    pub listen: Option<SocketAddr>,
    /// Allow --listen on an address other machines can reach.
    #[arg(long, requires = "listen")]
    pub allow_remote: bool,
    /// Also accept WebSocket clients from pages of this origin (e.g. https://pencil.example.org); repeatable.
    #[arg(long = "allow-origin", value_name = "URL", value_parser = parse_origin, requires = "listen")]
    pub allow_origin: Vec<String>,
    /// Write this launch's token to PATH (mode 0600), for the editor that started the server
    /// ($PENCIL_LSP_TOKEN sets the token instead of a random one).
    #[arg(long, value_name = "PATH", requires = "listen")]
    pub token_file: Option<PathBuf>,
}

/// Why the listener did not start.
#[derive(Debug, thiserror::Error)]
pub enum ListenStartError {
    /// `PENCIL_LSP_TOKEN` is not a usable token.
    #[error("{0}")]
    Token(String),
    /// The operating system gave no random bytes.
    #[error("no random token could be made: {0}")]
    Random(getrandom::Error),
    /// The token file could not be written.
    #[error("could not write the token file {path}: {source}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Binding failed.
    #[error(transparent)]
    Listen(#[from] super::ListenError),
}

/// This launch's token: `PENCIL_LSP_TOKEN` when set, else 256 random bits.
pub fn launch_token() -> Result<Token, ListenStartError> {
    match std::env::var(TOKEN_ENV) {
        Ok(text) if !text.is_empty() => Token::parse(&text).map_err(ListenStartError::Token),
        _ => Token::generate().map_err(ListenStartError::Random),
    }
}

/// Writes the token to `path`, readable by this user only, replacing the file whole
/// (a reader never sees half a token).
pub fn write_token_file(path: &Path, token: &Token) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // tempfile creates the file with mode 0600.
    let mut file = tempfile::Builder::new().prefix(".pencil-lsp-token").tempfile_in(dir)?;
    writeln!(file, "{}", token.expose())?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Serves `--listen addr` until the process ends.
pub async fn run_listen(addr: SocketAddr, args: &ListenArgs, options: ServerOptions) -> Result<(), ListenStartError> {
    let token = launch_token()?;
    if let Some(path) = &args.token_file {
        write_token_file(path, &token).map_err(|source| ListenStartError::TokenFile { path: path.clone(), source })?;
    }
    let config = ListenConfig { allow_remote: args.allow_remote, allow_origins: args.allow_origin.clone(), token };
    run_websocket(addr, config, options, |policy| {
        let bound = policy.bound();
        tracing::info!("listening for WebSocket LSP clients on ws://{bound}");
        eprintln!("pencil-lsp: listening on ws://{bound}");
        eprintln!("pencil-lsp: open {}", policy.page_url());
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn the_token_file_is_private_and_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "old").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let token = Token::generate().expect("random");
        write_token_file(&path, &token).expect("token file");
        assert_eq!(std::fs::read_to_string(&path).expect("read").trim(), token.expose());
        assert_eq!(std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777, 0o600);
    }
}
