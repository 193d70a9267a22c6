//! Checks the programs given as arguments (quick manual probe).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = pencil_sandbox::Sandbox::new(pencil_sandbox::SandboxConfig::default())?;
    for src in std::env::args().skip(1) {
        let v = sandbox.check(&src)?;
        println!("{}", serde_json::to_string(&v)?);
    }
    Ok(())
}
