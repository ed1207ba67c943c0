//! Real sockets that play alert sinks in tests: an HTTP receiver on 127.0.0.1 whose
//! answers follow a script (fail, hang, recover), and syslog listeners (UDP and TCP).
//!
//! The HTTP side is a minimal HTTP/1.1 server on `std::net`: one thread per connection,
//! `Content-Length` bodies, `Connection: close` answers. It records every request.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// What the receiver does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Answers with this status.
    Status(u16),
    /// Reads the request, then answers nothing until the receiver is dropped (or 60 s).
    Hang,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// What the receiver did with it.
    pub reply: Reply,
}

impl Received {
    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    /// After the script: this.
    then: Mutex<Option<Reply>>,
    received: Mutex<Vec<Received>>,
    closed: AtomicBool,
}

/// An HTTP receiver on 127.0.0.1 (stops accepting when dropped).
pub struct HttpReceiver {
    addr: String,
    shared: Arc<Shared>,
}

impl HttpReceiver {
    /// Answers `script` in order, then `then` for every later request.
    pub fn start(script: &[Reply], then: Reply) -> HttpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let addr = listener.local_addr().expect("local addr").to_string();
        let shared = Arc::new(Shared::default());
        *shared.script.lock().unwrap() = script.iter().copied().collect();
        *shared.then.lock().unwrap() = Some(then);
        let s = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.closed.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || serve(conn, &s));
            }
        });
        HttpReceiver { addr, shared }
    }

    /// `http://127.0.0.1:PORT/alerts`.
    pub fn url(&self) -> String {
        format!("http://{}/alerts", self.addr)
    }

    /// Every later request gets `reply` (the rest of the script is dropped).
    pub fn set_reply(&self, reply: Reply) {
        self.shared.script.lock().unwrap().clear();
        *self.shared.then.lock().unwrap() = Some(reply);
    }

    /// The requests so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits (at most `timeout`) until `done` holds for the requests so far.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if done(&got) || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees `closed`.
        let _ = TcpStream::connect(&self.addr);
    }
}

fn serve(conn: TcpStream, s: &Shared) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let reply = {
        let next = s.script.lock().unwrap().pop_front();
        next.or(*s.then.lock().unwrap()).unwrap_or(Reply::Status(200))
    };
    s.received.lock().unwrap().push(Received { method, path, headers, body, reply });
    let mut conn = conn;
    match reply {
        Reply::Status(code) => {
            let _ = write!(conn, "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
        Reply::Hang => {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !s.closed.load(Ordering::Relaxed) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// A UDP syslog listener on 127.0.0.1.
pub struct UdpListener {
    socket: UdpSocket,
}

impl UdpListener {
    pub fn start() -> UdpListener {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        UdpListener { socket }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.socket.local_addr().expect("local addr").to_string()
    }

    /// The next datagram as text, or `None` after `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<String> {
        self.socket.set_read_timeout(Some(timeout)).expect("timeout");
        let mut buf = vec![0u8; 65_536];
        let n = self.socket.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }
}

/// A TCP syslog listener on 127.0.0.1 reading octet-counted frames (RFC 6587).
pub struct TcpFrames {
    listener: TcpListener,
    conn: Option<BufReader<TcpStream>>,
}

impl TcpFrames {
    pub fn start() -> TcpFrames {
        TcpFrames { listener: TcpListener::bind("127.0.0.1:0").expect("bind tcp"), conn: None }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.listener.local_addr().expect("local addr").to_string()
    }

    /// The next frame's message (`LEN SP MSG`, exactly LEN bytes), waiting at most
    /// `timeout` for the connection and the frame.
    pub fn recv(&mut self, timeout: Duration) -> Option<String> {
        if self.conn.is_none() {
            self.listener.set_nonblocking(true).ok()?;
            let deadline = Instant::now() + timeout;
            let stream = loop {
                match self.listener.accept() {
                    Ok((s, _)) => break s,
                    Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                    Err(_) => return None,
                }
            };
            stream.set_nonblocking(false).ok()?;
            self.conn = Some(BufReader::new(stream));
        }
        let conn = self.conn.as_mut()?;
        conn.get_ref().set_read_timeout(Some(timeout)).ok()?;
        let mut len = Vec::new();
        conn.read_until(b' ', &mut len).ok()?;
        let len: usize = std::str::from_utf8(&len).ok()?.trim_end().parse().ok()?;
        let mut msg = vec![0u8; len];
        conn.read_exact(&mut msg).ok()?;
        String::from_utf8(msg).ok()
    }
}

/// The parts of an RFC 5424 message, parsed strictly enough to catch a malformed one.
#[derive(Debug)]
pub struct Syslog5424 {
    pub pri: u32,
    pub version: u32,
    pub timestamp: String,
    pub hostname: String,
    pub app_name: String,
    pub procid: String,
    pub msgid: String,
    /// SD-ID and its params.
    pub sd: Vec<(String, BTreeMap<String, String>)>,
    /// MSG without its BOM.
    pub msg: String,
    /// Whether MSG began with the UTF-8 BOM.
    pub bom: bool,
}

/// Parses `line` as RFC 5424 (panics with the reason when it is not).
pub fn parse_5424(line: &str) -> Syslog5424 {
    let rest = line.strip_prefix('<').unwrap_or_else(|| panic!("no PRI: {line}"));
    let (pri, rest) = rest.split_once('>').unwrap_or_else(|| panic!("no PRI end: {line}"));
    let pri: u32 = pri.parse().unwrap_or_else(|_| panic!("PRI is not a number: {line}"));
    assert!(pri <= 191, "PRI out of range: {line}");
    let mut fields = rest.splitn(7, ' ');
    let mut next = |what: &str| fields.next().unwrap_or_else(|| panic!("no {what}: {line}")).to_string();
    let version: u32 = next("VERSION").parse().unwrap_or_else(|_| panic!("VERSION: {line}"));
    let timestamp = next("TIMESTAMP");
    assert!(chrono::DateTime::parse_from_rfc3339(&timestamp).is_ok(), "TIMESTAMP {timestamp:?}: {line}");
    let hostname = next("HOSTNAME");
    let app_name = next("APP-NAME");
    let procid = next("PROCID");
    let msgid = next("MSGID");
    for (name, v, max) in [
        ("HOSTNAME", &hostname, 255),
        ("APP-NAME", &app_name, 48),
        ("PROCID", &procid, 128),
        ("MSGID", &msgid, 32),
    ] {
        assert!(
            !v.is_empty() && v.len() <= max && v.bytes().all(|b| (33..=126).contains(&b)),
            "{name} {v:?}: {line}"
        );
    }
    let tail = next("STRUCTURED-DATA");
    let mut rest = tail.chars().peekable();
    let mut sd = Vec::new();
    if rest.peek() == Some(&'-') {
        rest.next();
    } else {
        while rest.peek() == Some(&'[') {
            rest.next();
            let id: String = std::iter::from_fn(|| rest.next_if(|c| *c != ' ' && *c != ']')).collect();
            let mut params = BTreeMap::new();
            while rest.next_if_eq(&' ').is_some() {
                let name: String = std::iter::from_fn(|| rest.next_if(|c| *c != '=')).collect();
                assert_eq!(rest.next(), Some('='), "SD-PARAM without '=': {line}");
                assert_eq!(rest.next(), Some('"'), "SD-PARAM value not quoted: {line}");
                let mut value = String::new();
                loop {
                    match rest.next() {
                        Some('\\') => {
                            value.push(rest.next().unwrap_or_else(|| panic!("escape at end: {line}")))
                        }
                        Some('"') => break,
                        Some(c) => value.push(c),
                        None => panic!("unterminated SD-PARAM: {line}"),
                    }
                }
                params.insert(name, value);
            }
            assert_eq!(rest.next(), Some(']'), "SD-ELEMENT not closed: {line}");
            sd.push((id, params));
        }
    }
    let after: String = rest.collect();
    let msg = after.strip_prefix(' ').unwrap_or_else(|| panic!("no space before MSG: {line}"));
    let (bom, msg) = match msg.strip_prefix('\u{feff}') {
        Some(m) => (true, m.to_string()),
        None => (false, msg.to_string()),
    };
    Syslog5424 { pri, version, timestamp, hostname, app_name, procid, msgid, sd, msg, bom }
}
