//! Workload W1 of the design (§7): ~600-byte audit events in a realistic mix — 70% logins
//! (20% of them failures), credential access, admin changes with before/after, API calls,
//! purchases, logouts, lockouts — over 10k Zipf-distributed users and 1k IPs, with
//! credentials planted in some events for the redaction policy to find.
//!
//! Everything but the `id` and `time` of each event is a pure function of the seed: the
//! generator pre-serializes a pool of events once, and the runner only prepends a unique
//! `id` and the current `time` when it sends one, so producing load costs a `memcpy`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// The shape of workload W1 (the design's numbers are the defaults).
#[derive(Debug, Clone)]
pub struct WorkloadSpec {
    /// Distinct users, drawn with a Zipf distribution.
    pub users: usize,
    /// Zipf exponent (1.0: the classic "a few users are very busy").
    pub zipf_exponent: f64,
    /// Distinct client IPs.
    pub ips: usize,
    /// Share of logins that fail.
    pub login_failure_share: f64,
    /// Share of events carrying a credential (password, token, key, card number).
    pub secret_share: f64,
    /// Pre-generated events; the runner cycles through them.
    pub pool: usize,
    /// Everything is derived from this.
    pub seed: u64,
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        Self {
            users: 10_000,
            zipf_exponent: 1.0,
            ips: 1_000,
            login_failure_share: 0.20,
            secret_share: 0.05,
            pool: 16_384,
            seed: 1,
        }
    }
}

/// A pre-serialized event without `id` and `time`: the JSON object text after its opening
/// brace (`"action":…}`), ready to be glued behind `{"id":…,"time":…,`.
#[derive(Debug, Clone)]
pub struct EventBody {
    pub tail: String,
    /// Whether the generator planted a credential in it.
    pub has_secret: bool,
}

/// The pool of W1 events a run sends, and what it holds.
#[derive(Debug, Clone)]
pub struct Workload {
    pub events: Vec<EventBody>,
}

impl Workload {
    /// Generates the pool described by `spec` (deterministic in `spec.seed`).
    pub fn generate(spec: &WorkloadSpec) -> Workload {
        let mut generator = Generator::new(spec);
        let events = (0..spec.pool.max(1)).map(|_| generator.next_event()).collect();
        Workload { events }
    }

    /// Mean size in bytes of a sent event (with a typical `id` and `time`).
    pub fn mean_event_bytes(&self) -> f64 {
        // `{"id":"` + 24-char id + `","time":"` + 27-char time + `",` ≈ 66 bytes.
        const ID_AND_TIME: usize = 66;
        let total: usize = self.events.iter().map(|e| e.tail.len() + ID_AND_TIME + 1).sum();
        total as f64 / self.events.len() as f64
    }

    /// Share of pooled events that carry a planted credential.
    pub fn secret_share(&self) -> f64 {
        self.events.iter().filter(|e| e.has_secret).count() as f64 / self.events.len() as f64
    }
}

/// Appends one complete event (`{"id":ID,"time":TIME,` + the pooled tail) to `out`.
pub fn write_event(out: &mut Vec<u8>, id: &str, time: &str, body: &EventBody) {
    out.extend_from_slice(b"{\"id\":\"");
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(b"\",\"time\":\"");
    out.extend_from_slice(time.as_bytes());
    out.extend_from_slice(b"\",");
    out.extend_from_slice(body.tail.as_bytes());
}

/// Cumulative Zipf weights over ranks `1..=n`, sampled by binary search.
#[derive(Debug, Clone)]
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, exponent: f64) -> Zipf {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = (1..=n.max(1))
            .map(|k| {
                acc += 1.0 / (k as f64).powf(exponent);
                acc
            })
            .collect();
        for c in &mut cdf {
            *c /= acc;
        }
        Zipf { cdf }
    }

    /// A rank in `0..n` (0 is the busiest).
    fn sample(&self, rng: &mut StdRng) -> usize {
        let u: f64 = rng.random();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

const USER_AGENTS: [&str; 6] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "okhttp/4.12.0 billing-service/2.14.1",
    "python-requests/2.32.3",
];
const UNKNOWN_USERS: [&str; 6] = ["admin", "root", "test", "administrator", "oracle", "guest"];
const ROLES: [&str; 5] = ["viewer", "editor", "billing", "support", "admin"];
const API_PATHS: [&str; 6] = [
    "/api/v2/orders",
    "/api/v2/customers/search",
    "/api/v2/invoices/export",
    "/api/v2/reports/daily",
    "/api/v2/users/me",
    "/api/v2/payments/refund",
];

/// Draws W1 events one at a time.
struct Generator {
    rng: StdRng,
    users: Zipf,
    ips: usize,
    login_failure_share: f64,
    secret_share: f64,
    counter: u64,
}

impl Generator {
    fn new(spec: &WorkloadSpec) -> Generator {
        Generator {
            rng: StdRng::seed_from_u64(spec.seed),
            users: Zipf::new(spec.users, spec.zipf_exponent),
            ips: spec.ips.max(1),
            login_failure_share: spec.login_failure_share,
            secret_share: spec.secret_share,
            counter: 0,
        }
    }

    fn hex(&mut self, bytes: usize) -> String {
        (0..bytes).map(|_| format!("{:02x}", self.rng.random::<u8>())).collect()
    }

    fn uuid(&mut self) -> String {
        let h = self.hex(16);
        format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }

    /// The IP of the `index`-th address of the pool: mostly IPv4, every 10th IPv6.
    fn ip(index: usize) -> String {
        if index % 10 == 9 {
            format!("2001:db8:{:x}::{:x}", index / 256, index % 256 + 1)
        } else {
            format!("10.{}.{}.{}", (index / 65_536) % 256, (index / 256) % 256, index % 256)
        }
    }

    /// A user's usual IP (9 times in 10), else any of the pool.
    fn ip_for(&mut self, user_rank: usize) -> String {
        let index = if self.rng.random_bool(0.9) {
            user_rank.wrapping_mul(2_654_435_761) % self.ips
        } else {
            self.rng.random_range(0..self.ips)
        };
        Self::ip(index)
    }

    fn next_event(&mut self) -> EventBody {
        self.counter += 1;
        let rank = self.users.sample(&mut self.rng);
        let user = format!("user-{rank:05}@corp.example.com");
        let ip = self.ip_for(rank);
        let ua = USER_AGENTS[rank % USER_AGENTS.len()];
        let session = self.hex(16);
        let request = self.uuid();
        let secret = self.rng.random_bool(self.secret_share);
        let roll: f64 = self.rng.random();
        let mut event = if roll < 0.70 {
            self.login(&user, secret)
        } else if roll < 0.78 {
            self.credential_access(secret)
        } else if roll < 0.83 {
            self.admin_change(rank)
        } else if roll < 0.88 {
            self.logout()
        } else if roll < 0.95 {
            self.api_call(secret)
        } else if roll < 0.99 {
            self.purchase(secret)
        } else {
            json!({"action": "account.lockout", "outcome": "success", "reason": "too_many_failures",
                   "severity": "high", "resource_type": "account", "resource_id": user,
                   "details": {"failed_attempts": 5 + self.rng.random_range(0..20), "lock_minutes": 30}})
        };
        let obj = event.as_object_mut().expect("the generator builds objects");
        obj.entry("user").or_insert_with(|| Value::String(user.clone()));
        obj.insert("ip".into(), Value::String(ip));
        obj.insert("user_agent".into(), Value::String(ua.to_string()));
        obj.insert("session_id".into(), Value::String(session));
        obj.insert("request_id".into(), Value::String(request));
        let text = event.to_string();
        EventBody { tail: text[1..].to_string(), has_secret: secret }
    }

    fn login(&mut self, user: &str, secret: bool) -> Value {
        let failed = self.rng.random_bool(self.login_failure_share);
        let method = ["password", "sso", "password+totp", "webauthn"][self.rng.random_range(0..4)];
        let mut details = json!({
            "method": method,
            "mfa": method != "password",
            "client": {"app": "portal", "version": format!("5.{}.{}", self.rng.random_range(0..20), self.rng.random_range(0..9))},
            "http": {"method": "POST", "path": "/auth/login", "status": if failed { 401 } else { 200 }},
            "tenant": format!("tenant-{:03}", self.rng.random_range(0..200)),
        });
        if secret {
            // A client that logs the form it received: the password is in the event.
            details["password"] =
                Value::String(format!("Summer{}!{}", self.rng.random_range(2000..2030), self.hex(3)));
        }
        if failed {
            let unknown = self.rng.random_bool(0.3);
            let user =
                if unknown { UNKNOWN_USERS[self.rng.random_range(0..UNKNOWN_USERS.len())] } else { user };
            json!({"action": "user.login", "outcome": "failure", "user": user, "severity": "low",
                   "reason": if unknown { "user_not_found" } else { "wrong_password" }, "details": details})
        } else {
            json!({"action": "user.login", "outcome": "success", "details": details})
        }
    }

    fn credential_access(&mut self, secret: bool) -> Value {
        let vault = format!(
            "vault/prod/{}/db-password",
            ["billing", "crm", "search", "ledger"][self.rng.random_range(0..4)]
        );
        let mut details = json!({
            "key_id": format!("kms-{}", self.hex(8)),
            "purpose": "service-start",
            "host": format!("app-{:02}.prod.internal", self.rng.random_range(0..40)),
        });
        if secret {
            // A value detector's job: an access key under an innocent field name.
            details["note"] = Value::String(format!("rotated from AKIA{}", self.hex(8).to_uppercase()));
        }
        json!({"action": "credential.decrypt", "outcome": "success", "severity": "medium",
               "resource_type": "secret", "resource_id": vault, "details": details})
    }

    fn admin_change(&mut self, rank: usize) -> Value {
        let target = format!("user-{:05}@corp.example.com", (rank * 7 + 13) % 10_000);
        let before = ROLES[self.rng.random_range(0..ROLES.len())];
        let after = ROLES[self.rng.random_range(0..ROLES.len())];
        json!({"action": "admin.role.change", "outcome": "success",
               "severity": if after == "admin" { "high" } else { "medium" },
               "resource_type": "user", "resource_id": target,
               "changes": {"before": {"role": before, "groups": ["staff", "eu-west"]},
                           "after": {"role": after, "groups": ["staff", "eu-west", "on-call"]}},
               "details": {"ticket": format!("CHG-{}", self.rng.random_range(10_000..99_999))}})
    }

    fn logout(&mut self) -> Value {
        if self.rng.random_bool(0.5) {
            json!({"action": "user.logout", "outcome": "success", "details": {"duration_s": self.rng.random_range(30..28_800)}})
        } else {
            json!({"action": "session.timeout", "outcome": "success", "reason": "idle",
                   "details": {"idle_s": 1800, "duration_s": self.rng.random_range(1800..28_800)}})
        }
    }

    fn api_call(&mut self, secret: bool) -> Value {
        let path = API_PATHS[self.rng.random_range(0..API_PATHS.len())];
        let status = if self.rng.random_bool(0.05) { 500 } else { 200 };
        let mut details = json!({
            "method": if path.contains("refund") { "POST" } else { "GET" },
            "path": path,
            "status": status,
            "duration_ms": self.rng.random_range(1..900),
            "bytes": self.rng.random_range(200..200_000),
        });
        if secret {
            // A bearer token copied from the request headers.
            details["authorization"] =
                Value::String(format!("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ7fSJ9.{}", self.hex(16)));
        }
        json!({"action": "api.call", "outcome": if status == 200 { "success" } else { "error" },
               "resource_type": "endpoint", "resource_id": path, "details": details})
    }

    fn purchase(&mut self, secret: bool) -> Value {
        let currency = ["EUR", "USD", "GBP"][self.rng.random_range(0..3)];
        let mut details = json!({
            "amount": self.rng.random_range(100..50_000) as f64 / 100.0,
            "currency": currency,
            "items": self.rng.random_range(1..8),
            "order": format!("ord_{}", self.hex(6)),
        });
        if secret {
            details["card"] = Value::String("4111 1111 1111 1111".into());
        }
        json!({"action": "purchase.complete", "outcome": "success", "resource_type": "order",
               "resource_id": format!("ord-{}", self.counter), "details": details})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(seed: u64) -> Workload {
        Workload::generate(&WorkloadSpec { seed, pool: 4096, ..WorkloadSpec::default() })
    }

    fn parsed(w: &Workload) -> Vec<Value> {
        w.events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut out = Vec::new();
                write_event(&mut out, &format!("id-{i}"), "2025-01-01T00:00:00.000000Z", e);
                serde_json::from_slice(&out).unwrap_or_else(|err| panic!("event {i} is not JSON: {err}"))
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_events_and_another_seed_others() {
        let a = pool(7);
        let b = pool(7);
        let c = pool(8);
        assert!(a.events.iter().zip(&b.events).all(|(x, y)| x.tail == y.tail));
        assert!(a.events.iter().zip(&c.events).filter(|(x, y)| x.tail == y.tail).count() < 10);
    }

    #[test]
    fn events_are_about_600_bytes_and_valid_json_objects() {
        let w = pool(1);
        let mean = w.mean_event_bytes();
        assert!((500.0..=700.0).contains(&mean), "mean event size {mean}");
        for e in parsed(&w) {
            assert!(e["action"].is_string() && e["outcome"].is_string(), "{e}");
        }
    }

    #[test]
    fn the_mix_follows_w1() {
        let events = parsed(&pool(3));
        let n = events.len() as f64;
        let share = |f: &dyn Fn(&Value) -> bool| events.iter().filter(|e| f(e)).count() as f64 / n;
        let logins = share(&|e| e["action"] == "user.login");
        assert!((0.66..0.74).contains(&logins), "logins {logins}");
        let failed = share(&|e| e["action"] == "user.login" && e["outcome"] == "failure") / logins;
        assert!((0.16..0.24).contains(&failed), "failed logins {failed}");
        assert!(share(&|e| e["action"] == "admin.role.change" && e["changes"]["before"].is_object()) > 0.03);
        assert!(share(&|e| e["action"] == "credential.decrypt") > 0.05);
        let secrets = pool(3).secret_share();
        assert!((0.03..0.07).contains(&secrets), "secret share {secrets}");
    }

    #[test]
    fn users_are_zipf_distributed() {
        let events = parsed(&pool(5));
        let mut counts = std::collections::HashMap::new();
        for e in &events {
            if let Some(u) = e["user"].as_str() {
                *counts.entry(u.to_string()).or_insert(0usize) += 1;
            }
        }
        let top = counts.get("user-00000@corp.example.com").copied().unwrap_or(0);
        let tenth = counts.get("user-00009@corp.example.com").copied().unwrap_or(0);
        // Zipf(1): rank 1 is ~10x rank 10 and holds ~1/H(10k) ≈ 10% of the draws.
        assert!(top as f64 > events.len() as f64 * 0.06, "top user {top}");
        assert!(top > 4 * tenth.max(1), "top {top}, tenth {tenth}");
        assert!(counts.len() > 1000, "only {} distinct users", counts.len());
    }
}
