//! Evaluates raw JavaScript in a bare deno_core/QuickJS runtime (engine probe).
use deno_core::{v8, JsRuntime, RuntimeOptions};
fn main() {
    let mut rt = JsRuntime::new(RuntimeOptions::default());
    let mut args = std::env::args().skip(1);
    if let Some(first) = args.next() {
        let _ = rt.execute_script("<input>", first);
    }
    for code in args {
        match rt.execute_script("probe", code) {
            Ok(v) => {
                deno_core::scope!(scope, &mut rt);
                let l = v8::Local::new(scope, v);
                println!("=> {}", l.to_rust_string_lossy(scope));
            }
            Err(e) => println!("!! {e:?}"),
        }
    }
}
