//! Runs the load generator against a real `warren-mq serve` (this repository's
//! bin/warren-mq.js, on a spare loopback port, with a file store) in every mode
//! and checks its own verdict: every message consumed once, every confirm in,
//! no queue left holding messages. Needs `npm run build` (pkg/) and node.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Server {
    child: Child,
    data: PathBuf,
    port: u16,
    ws: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn start_warren() -> Server {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    assert!(
        root.join("pkg/warren_bg.wasm").exists(),
        "pkg/ is missing: run `npm run build` in the repository first"
    );
    // Tests run in parallel, each with a server and a data directory of its own.
    static SERVERS: AtomicUsize = AtomicUsize::new(0);
    let data = std::env::temp_dir().join(format!(
        "warren-loadgen-test-{}-{}",
        std::process::id(),
        SERVERS.fetch_add(1, Ordering::Relaxed)
    ));
    let mut child = Command::new("node")
        .arg(root.join("bin/warren-mq.js"))
        .args([
            "serve",
            "--port",
            "0",
            "--http-port",
            "0",
            "--log-level",
            "warn",
        ])
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs bin/warren-mq.js");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut port = None;
    let mut ws = None;
    // "  AMQP       amqp://127.0.0.1:PORT" and "  WebSocket  ws://127.0.0.1:PORT/ws/amqp"
    // are among the first lines it prints.
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if let Some(url) = line.trim().strip_prefix("AMQP") {
            port = url.trim().rsplit(':').next().and_then(|p| p.parse().ok());
        } else if let Some(url) = line.trim().strip_prefix("WebSocket") {
            ws = Some(url.trim().to_string());
        }
        if port.is_some() && ws.is_some() {
            break;
        }
    }
    let port = port.expect("warren-mq serve printed its AMQP URL");
    let ws = ws.expect("warren-mq serve printed its WebSocket URL");
    Server {
        child,
        data,
        port,
        ws,
    }
}

fn loadgen(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_warren-loadgen"))
        .args(args)
        .output()
        .expect("the load generator runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_mode_and_size_passes_its_checks_against_warren() {
    let server = start_warren();
    let url = format!("amqp://guest:guest@127.0.0.1:{}", server.port);
    for mode in [
        "auto-ack",
        "manual-ack",
        "confirms-acks",
        "persistent-confirms-acks",
    ] {
        for size in ["16", "1024"] {
            let (ok, out, err) = loadgen(&[
                "--url",
                &url,
                "--mode",
                mode,
                "--size",
                size,
                "--count",
                "3001",
                "--publishers",
                "2",
                "--consumers",
                "3",
                "--backlog",
                "500",
                "--timeout",
                "60",
                "--json",
            ]);
            assert!(ok, "{mode} {size}: exit failure\n{out}{err}");
            assert!(out.contains("\"problems\":[]"), "{mode} {size}: {out}");
            assert!(out.contains("\"consumed\":3001,"), "{mode} {size}: {out}");
            let confirmed = if mode.contains("confirms") { 3001 } else { 0 };
            assert!(
                out.contains(&format!("\"confirmed\":{confirmed},")),
                "{mode} {size}: {out}"
            );
            assert!(out.contains("\"left\":0,"), "{mode} {size}: {out}");
        }
    }
}

#[test]
fn over_websocket_every_message_goes_through_the_relay() {
    let server = start_warren();
    // Nothing listens at --url's address: only the WebSocket can carry the run.
    for mode in ["auto-ack", "persistent-confirms-acks"] {
        let (ok, out, err) = loadgen(&[
            "--url",
            "amqp://guest:guest@127.0.0.1:1",
            "--ws-url",
            &server.ws,
            "--mode",
            mode,
            "--count",
            "5000",
            "--publishers",
            "2",
            "--consumers",
            "2",
            "--size",
            "70000",
            "--timeout",
            "60",
            "--json",
        ]);
        assert!(ok, "{mode}: exit failure\n{out}{err}");
        assert!(out.contains("\"problems\":[]"), "{mode}: {out}");
        assert!(out.contains("\"consumed\":5000,"), "{mode}: {out}");
        assert!(out.contains("\"left\":0,"), "{mode}: {out}");
        // At least a message per publish: the relay counts what it sent.
        let sent: u64 = out
            .split("\"ws_messages_out\":")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|n| n.parse().ok())
            .expect("ws_messages_out in the report");
        assert!(sent >= 5000, "{mode}: {out}");
    }
}

#[test]
fn a_websocket_url_that_does_not_upgrade_is_an_error() {
    let server = start_warren();
    let page = server.ws.replace("/ws/amqp", "/no-such-path");
    let (ok, out, err) = loadgen(&[
        "--url",
        "amqp://guest:guest@127.0.0.1:1",
        "--ws-url",
        &page,
        "--timeout",
        "10",
    ]);
    assert!(!ok, "{out}");
    assert!(err.contains("no WebSocket upgrade"), "{err}");
}

#[test]
fn a_broker_that_is_not_there_is_an_error_naming_the_address() {
    // Port 1 on loopback: nothing listens there.
    let (ok, out, err) = loadgen(&["--url", "amqp://guest:guest@127.0.0.1:1", "--timeout", "10"]);
    assert!(!ok, "{out}");
    assert!(err.contains("connect to 127.0.0.1:1"), "{err}");
}

#[test]
fn bad_options_are_refused_with_the_usage() {
    let (ok, _, err) = loadgen(&["--mode", "fast"]);
    assert!(!ok);
    assert!(err.contains("--mode: unknown mode \"fast\""), "{err}");
    assert!(err.contains("usage: warren-loadgen"), "{err}");
    let (ok, _, err) = loadgen(&["--size", "8"]);
    assert!(!ok);
    assert!(err.contains("at least 16 bytes"), "{err}");
}
