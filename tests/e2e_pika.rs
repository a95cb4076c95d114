//! A real client against the server: pika (Python) over TCP, with a small
//! host loop in this test (non-blocking std sockets on one thread).
//!
//! Needs pika: `npm test` installs it into the project's own Python
//! environment, `.venv/`, which these tests use when it is there (`python3`
//! from PATH otherwise). The tests fail, not skip, without it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use warren::amqp::server::{ConnToken, Output, Server};
use warren::broker::Broker;

const WAIT: Duration = Duration::from_secs(10);

/// The server on a TCP port, driven by a thread until dropped.
struct Host {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Host {
    fn start() -> Host {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || serve(listener, &flag));
        Host {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Socket {
    stream: TcpStream,
    pending: Vec<u8>,
}

/// The host loop: accept, read into the server, write what it says to.
fn serve(listener: TcpListener, stop: &AtomicBool) {
    let mut server = Server::new(Default::default(), Broker::default());
    let mut sockets: HashMap<ConnToken, Socket> = HashMap::new();
    let started = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        let now = started.elapsed().as_millis() as u64;
        let mut busy = false;
        while let Ok((stream, addr)) = listener.accept() {
            stream.set_nonblocking(true).unwrap();
            stream.set_nodelay(true).unwrap();
            let conn = server.accept(now, &addr.to_string());
            sockets.insert(
                conn,
                Socket {
                    stream,
                    pending: Vec::new(),
                },
            );
            busy = true;
        }
        let mut gone = Vec::new();
        for (&conn, socket) in sockets.iter_mut() {
            while server.wants_read(conn) {
                match socket.stream.read(&mut buf) {
                    Ok(0) => {
                        gone.push(conn);
                        break;
                    }
                    Ok(n) => {
                        server.receive(now, conn, &buf[..n]);
                        busy = true;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => {
                        gone.push(conn);
                        break;
                    }
                }
            }
        }
        for conn in gone {
            server.transport_closed(now, conn);
            sockets.remove(&conn);
        }
        if server.next_deadline().is_some_and(|d| d <= now) {
            server.tick(now);
        }
        while let Some(out) = server.poll_output() {
            match out {
                Output::Send { conn, bytes } => {
                    if let Some(s) = sockets.get_mut(&conn) {
                        s.pending.extend_from_slice(&bytes);
                    }
                    server.recycle(bytes);
                }
                Output::Close { conn, .. } => {
                    if let Some(mut s) = sockets.remove(&conn) {
                        let _ = s.stream.set_nonblocking(false);
                        let _ = s.stream.write_all(&s.pending);
                        let _ = s.stream.shutdown(std::net::Shutdown::Both);
                    }
                }
                _ => {}
            }
        }
        for socket in sockets.values_mut() {
            while !socket.pending.is_empty() {
                match socket.stream.write(&socket.pending) {
                    Ok(n) => {
                        socket.pending.drain(..n);
                        busy = true;
                    }
                    Err(_) => break, // would block, or gone: the read side notices
                }
            }
        }
        if !busy {
            thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The project's Python environment (made by `npm test`), else `python3`.
fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python3");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

fn require_pika() {
    let ok = Command::new(python())
        .args(["-c", "import pika"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "pika is needed for this test: run `npm test` once (it makes .venv/ with pika)"
    );
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(name)
}

/// A python script with its stdout lines arriving on a channel.
struct Py {
    child: Child,
    lines: Receiver<String>,
    name: String,
}

impl Py {
    fn spawn(name: &str, args: &[&str]) -> Py {
        let mut child = Command::new(python())
            .arg(script(name))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Py {
            child,
            lines,
            name: name.to_owned(),
        }
    }

    /// Waits for a line starting with `prefix`; returns it.
    fn expect_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => continue,
                Err(_) => panic!("{}: no line starting with {prefix:?} in time", self.name),
            }
        }
    }

    fn wait_success(mut self) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{} exited with {status}", self.name);
                return;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("{} did not finish in time", self.name);
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    fn kill(mut self) {
        // SIGKILL: no clean close, the socket just goes away.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Py {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn queue_count(port: &str, queue: &str) -> String {
    let mut q = Py::spawn("queue_count.py", &[port, queue]);
    let line = q.expect_line("count ");
    q.wait_success();
    line
}

#[test]
fn killed_consumer_before_ack_gets_its_message_redelivered() {
    require_pika();
    let host = Host::start();
    let port = host.port.to_string();
    Py::spawn("producer.py", &[&port, "Hello..."]).wait_success();

    let mut first = Py::spawn("worker.py", &[&port, "hold"]);
    assert_eq!(
        first.expect_line("received"),
        "received Hello... redelivered=False"
    );
    first.kill();

    let mut second = Py::spawn("worker.py", &[&port, "ack"]);
    assert_eq!(
        second.expect_line("received"),
        "received Hello... redelivered=True"
    );
    second.wait_success();
    assert_eq!(queue_count(&port, "task_queue"), "count 0");
}

#[test]
fn killed_auto_ack_consumer_loses_its_message() {
    require_pika();
    let host = Host::start();
    let port = host.port.to_string();
    Py::spawn("producer.py", &[&port, "Hello"]).wait_success();
    let mut worker = Py::spawn("worker.py", &[&port, "auto"]);
    assert_eq!(
        worker.expect_line("received"),
        "received Hello redelivered=False"
    );
    worker.kill();
    assert_eq!(queue_count(&port, "task_queue"), "count 0");
}

#[test]
fn confirms_and_unroutable_mandatory_publishes() {
    require_pika();
    let host = Host::start();
    let port = host.port.to_string();
    let mut py = Py::spawn("confirms.py", &[&port]);
    py.expect_line("confirmed");
    py.expect_line("unroutable");
    assert_eq!(py.expect_line("count "), "count 1");
    py.wait_success();
}
