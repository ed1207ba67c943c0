//! A small hand-written user-agent classifier: browser family and major version, OS,
//! device class, and whether the client is a bot or a security scanner.
//!
//! One pass of an Aho-Corasick automaton (ASCII case-insensitive) finds every known token
//! in the header; fixed precedence rules then decide (Edge before Chrome before Safari,
//! iOS and Android before macOS and Linux, scanners before bots).

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use serde_json::{Map, Value};

/// Only this many leading bytes of a header are examined (real ones are ~100–300).
const MAX_SCAN_BYTES: usize = 1024;

/// What a token says about the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Says {
    /// A security scanner or attack tool (also a bot).
    Scanner(&'static str),
    /// A crawler, monitor or HTTP library.
    Bot(&'static str),
    /// "bot", "spider", "crawler": some unnamed bot.
    GenericBot,
    Browser(Browser),
    Os(&'static str),
    Hint(Hint),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Browser {
    Edge,
    Opera,
    Samsung,
    Firefox,
    Chrome,
    Safari,
    SafariVersion,
    InternetExplorer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hint {
    Mobile,
    Tablet,
    IPad,
    IPhone,
}

/// Tokens (matched case-insensitively) and what each says.
const TOKENS: &[(&str, Says)] = &[
    ("sqlmap", Says::Scanner("sqlmap")),
    ("nikto", Says::Scanner("Nikto")),
    ("nmap", Says::Scanner("Nmap")),
    ("masscan", Says::Scanner("masscan")),
    ("zgrab", Says::Scanner("zgrab")),
    ("nuclei", Says::Scanner("Nuclei")),
    ("wpscan", Says::Scanner("WPScan")),
    ("dirbuster", Says::Scanner("DirBuster")),
    ("gobuster", Says::Scanner("gobuster")),
    ("acunetix", Says::Scanner("Acunetix")),
    ("nessus", Says::Scanner("Nessus")),
    ("openvas", Says::Scanner("OpenVAS")),
    ("zmeu", Says::Scanner("ZmEu")),
    ("hydra", Says::Scanner("Hydra")),
    ("censysinspect", Says::Scanner("CensysInspect")),
    ("googlebot", Says::Bot("Googlebot")),
    ("bingbot", Says::Bot("bingbot")),
    ("duckduckbot", Says::Bot("DuckDuckBot")),
    ("baiduspider", Says::Bot("Baiduspider")),
    ("yandexbot", Says::Bot("YandexBot")),
    ("applebot", Says::Bot("Applebot")),
    ("slurp", Says::Bot("Yahoo! Slurp")),
    ("facebookexternalhit", Says::Bot("facebookexternalhit")),
    ("headlesschrome", Says::Bot("HeadlessChrome")),
    ("curl/", Says::Bot("curl")),
    ("wget/", Says::Bot("Wget")),
    ("python-requests", Says::Bot("python-requests")),
    ("python-urllib", Says::Bot("Python-urllib")),
    ("aiohttp", Says::Bot("aiohttp")),
    ("go-http-client", Says::Bot("Go-http-client")),
    ("java/", Says::Bot("Java")),
    ("okhttp", Says::Bot("okhttp")),
    ("apache-httpclient", Says::Bot("Apache-HttpClient")),
    ("libwww-perl", Says::Bot("libwww-perl")),
    ("postmanruntime", Says::Bot("PostmanRuntime")),
    ("httpie", Says::Bot("HTTPie")),
    ("bot", Says::GenericBot),
    ("spider", Says::GenericBot),
    ("crawler", Says::GenericBot),
    ("edg/", Says::Browser(Browser::Edge)),
    ("edga/", Says::Browser(Browser::Edge)),
    ("edgios/", Says::Browser(Browser::Edge)),
    ("edge/", Says::Browser(Browser::Edge)),
    ("opr/", Says::Browser(Browser::Opera)),
    ("opera/", Says::Browser(Browser::Opera)),
    ("samsungbrowser/", Says::Browser(Browser::Samsung)),
    ("firefox/", Says::Browser(Browser::Firefox)),
    ("fxios/", Says::Browser(Browser::Firefox)),
    ("crios/", Says::Browser(Browser::Chrome)),
    ("chrome/", Says::Browser(Browser::Chrome)),
    ("safari/", Says::Browser(Browser::Safari)),
    ("version/", Says::Browser(Browser::SafariVersion)),
    ("msie ", Says::Browser(Browser::InternetExplorer)),
    ("trident/", Says::Browser(Browser::InternetExplorer)),
    ("windows", Says::Os("Windows")),
    ("iphone", Says::Hint(Hint::IPhone)),
    ("ipod", Says::Hint(Hint::IPhone)),
    ("ipad", Says::Hint(Hint::IPad)),
    ("android", Says::Os("Android")),
    ("cros ", Says::Os("ChromeOS")),
    ("mac os x", Says::Os("macOS")),
    ("macintosh", Says::Os("macOS")),
    ("linux", Says::Os("Linux")),
    ("mobile", Says::Hint(Hint::Mobile)),
    ("tablet", Says::Hint(Hint::Tablet)),
];

/// The class of one user-agent header; `version` borrows from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAgent<'a> {
    /// `Chrome`, `Firefox`, `Safari`, `Edge`, `Opera`, `Samsung Internet`, `Internet Explorer`.
    pub browser: Option<&'static str>,
    /// The browser's major version (`124`).
    pub version: Option<&'a str>,
    /// `Windows`, `macOS`, `iOS`, `Android`, `ChromeOS`, `Linux`.
    pub os: Option<&'static str>,
    /// `mobile`, `tablet`, `desktop`, `bot` or `unknown`.
    pub device: &'static str,
    /// The bot's name (`Googlebot`, `curl`, `sqlmap`, `bot` for an unnamed one).
    pub bot: Option<&'static str>,
    /// A security scanner or attack tool.
    pub scanner: bool,
}

impl UserAgent<'_> {
    /// The object written to `/details/ua`: `browser`, `version`, `os` only when known,
    /// `device`, `bot` (bool), `bot_name` when a bot, `scanner` (bool).
    pub fn to_json(&self) -> Map<String, Value> {
        let mut out = Map::with_capacity(7);
        if let Some(b) = self.browser {
            out.insert("browser".into(), b.into());
        }
        if let Some(v) = self.version {
            out.insert("version".into(), v.into());
        }
        if let Some(os) = self.os {
            out.insert("os".into(), os.into());
        }
        out.insert("device".into(), self.device.into());
        out.insert("bot".into(), self.bot.is_some().into());
        if let Some(name) = self.bot {
            out.insert("bot_name".into(), name.into());
        }
        out.insert("scanner".into(), self.scanner.into());
        out
    }
}

/// Classifies user-agent headers; build once (per policy instance), use for every event.
#[derive(Debug, Clone)]
pub struct Classifier {
    automaton: AhoCorasick,
}

/// Where each token first ends in the header (`usize::MAX`: absent).
struct Seen([usize; TOKENS.len()]);

impl Seen {
    fn end_of(&self, pred: impl Fn(Says) -> bool) -> Option<usize> {
        TOKENS
            .iter()
            .zip(self.0.iter())
            .find(|((_, says), end)| pred(*says) && **end != usize::MAX)
            .map(|(_, e)| *e)
    }
    fn has(&self, pred: impl Fn(Says) -> bool) -> bool {
        self.end_of(pred).is_some()
    }
    /// The first name of a kind, in table order (which is the precedence).
    fn name(&self, pick: impl Fn(Says) -> Option<&'static str>) -> Option<&'static str> {
        TOKENS
            .iter()
            .zip(self.0.iter())
            .filter(|(_, end)| **end != usize::MAX)
            .find_map(|((_, says), _)| pick(*says))
    }
}

impl Default for Classifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Classifier {
    /// Builds the automaton over the fixed token table.
    pub fn new() -> Self {
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            // A contiguous NFA builds in microseconds (a DFA takes milliseconds, paid by
            // every new policy instance within its call deadline) and scans a short
            // header nearly as fast.
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(TOKENS.iter().map(|(t, _)| t))
            // The table is a constant of a few dozen short ASCII words: building cannot fail.
            .unwrap_or_else(|e| panic!("user-agent token table: {e}"));
        Self { automaton }
    }

    /// The class of `header`. Allocates nothing.
    pub fn classify<'a>(&self, header: &'a str) -> UserAgent<'a> {
        let scanned = &header.as_bytes()[..header.len().min(MAX_SCAN_BYTES)];
        let mut seen = Seen([usize::MAX; TOKENS.len()]);
        for m in self.automaton.find_overlapping_iter(scanned) {
            let slot = &mut seen.0[m.pattern().as_usize()];
            if *slot == usize::MAX {
                *slot = m.end();
            }
        }

        let scanner = seen.name(|s| if let Says::Scanner(n) = s { Some(n) } else { None });
        let named_bot = seen.name(|s| if let Says::Bot(n) = s { Some(n) } else { None });
        let bot = scanner.or(named_bot).or_else(|| seen.has(|s| s == Says::GenericBot).then_some("bot"));

        let (browser, version_end) = browser(&seen);
        let version = version_end.and_then(|end| major_version(header, end));

        let hint = |h: Hint| seen.has(|s| s == Says::Hint(h));
        let os = if seen.has(|s| s == Says::Os("Windows")) {
            Some("Windows")
        } else if hint(Hint::IPhone) || hint(Hint::IPad) {
            Some("iOS")
        } else {
            seen.name(|s| if let Says::Os(n) = s { Some(n) } else { None })
        };

        let device = if bot.is_some() {
            "bot"
        } else if hint(Hint::IPad) || hint(Hint::Tablet) || (os == Some("Android") && !hint(Hint::Mobile)) {
            "tablet"
        } else if hint(Hint::IPhone) || hint(Hint::Mobile) {
            "mobile"
        } else if matches!(os, Some("Windows" | "macOS" | "Linux" | "ChromeOS")) {
            "desktop"
        } else {
            "unknown"
        };
        UserAgent { browser, version, os, device, bot, scanner: scanner.is_some() }
    }
}

/// The browser family and where its version number starts, by precedence: Edge and Opera
/// and Samsung Internet carry `Chrome/` too, Chrome carries `Safari/`.
fn browser(seen: &Seen) -> (Option<&'static str>, Option<usize>) {
    let at = |b: Browser| seen.end_of(|s| s == Says::Browser(b));
    for (b, name) in [
        (Browser::Edge, "Edge"),
        (Browser::Opera, "Opera"),
        (Browser::Samsung, "Samsung Internet"),
        (Browser::Firefox, "Firefox"),
        (Browser::Chrome, "Chrome"),
    ] {
        if let Some(end) = at(b) {
            return (Some(name), Some(end));
        }
    }
    if let Some(end) = at(Browser::Safari) {
        // Safari's own version is in `Version/`; a bare `Safari/` is a WebKit build number.
        return (
            Some("Safari"),
            at(Browser::SafariVersion).or(Some(end)).filter(|_| at(Browser::SafariVersion).is_some()),
        );
    }
    if let Some(end) = at(Browser::InternetExplorer) {
        return (Some("Internet Explorer"), Some(end));
    }
    (None, None)
}

/// The run of ASCII digits starting at `start`, if any.
fn major_version(header: &str, start: usize) -> Option<&str> {
    let rest = header.get(start..)?;
    let len = rest.bytes().take_while(u8::is_ascii_digit).count();
    (len > 0).then(|| &rest[..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ua(header: &str) -> UserAgent<'_> {
        Classifier::new().classify(header)
    }

    #[track_caller]
    fn check(header: &str, browser: Option<&str>, version: Option<&str>, os: Option<&str>, device: &str) {
        let got = ua(header);
        assert_eq!(
            (got.browser, got.version, got.os, got.device),
            (browser, version, os, device),
            "{header}"
        );
        assert_eq!(got.bot, None, "{header}");
        assert!(!got.scanner, "{header}");
    }

    #[test]
    fn desktop_browsers() {
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            Some("Chrome"),
            Some("124"),
            Some("Windows"),
            "desktop",
        );
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
            Some("Edge"),
            Some("124"),
            Some("Windows"),
            "desktop",
        );
        check(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
            Some("Safari"),
            Some("17"),
            Some("macOS"),
            "desktop",
        );
        check(
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
            Some("Firefox"),
            Some("125"),
            Some("Linux"),
            "desktop",
        );
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 OPR/108.0.0.0",
            Some("Opera"),
            Some("108"),
            Some("Windows"),
            "desktop",
        );
        check(
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            Some("Chrome"),
            Some("120"),
            Some("ChromeOS"),
            "desktop",
        );
    }

    #[test]
    fn phones_and_tablets() {
        check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
            Some("Safari"),
            Some("17"),
            Some("iOS"),
            "mobile",
        );
        check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
            Some("Chrome"),
            Some("124"),
            Some("iOS"),
            "mobile",
        );
        check(
            "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/124.0 Mobile/15E148 Safari/605.1.15",
            Some("Firefox"),
            Some("124"),
            Some("iOS"),
            "tablet",
        );
        check(
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
            Some("Chrome"),
            Some("124"),
            Some("Android"),
            "mobile",
        );
        check(
            "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
            Some("Chrome"),
            Some("123"),
            Some("Android"),
            "tablet",
        );
        check(
            "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
            Some("Samsung Internet"),
            Some("24"),
            Some("Android"),
            "mobile",
        );
        check(
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 EdgA/124.0.2478.62",
            Some("Edge"),
            Some("124"),
            Some("Android"),
            "mobile",
        );
    }

    #[test]
    fn bots_and_tools() {
        for (header, name) in [
            ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot"),
            ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bingbot"),
            ("curl/8.5.0", "curl"),
            ("python-requests/2.31.0", "python-requests"),
            ("Go-http-client/1.1", "Go-http-client"),
            ("Wget/1.21.4", "Wget"),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36",
                "HeadlessChrome",
            ),
            ("SomeCompany-UptimeBot/1.0", "bot"),
        ] {
            let got = ua(header);
            assert_eq!(got.bot, Some(name), "{header}");
            assert_eq!(got.device, "bot", "{header}");
            assert!(!got.scanner, "{header}");
        }
        for (header, name) in [
            ("sqlmap/1.8#stable (https://sqlmap.org)", "sqlmap"),
            ("Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000001)", "Nikto"),
            ("Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)", "Nmap"),
            ("masscan/1.3 (https://github.com/robertdavidgraham/masscan)", "masscan"),
            ("Mozilla/5.0 zgrab/0.x", "zgrab"),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Nuclei - Open-source project",
                "Nuclei",
            ),
        ] {
            let got = ua(header);
            assert_eq!(got.bot, Some(name), "{header}");
            assert!(got.scanner, "{header}");
        }
    }

    #[test]
    fn unknown_and_odd_headers() {
        let got = ua("");
        assert_eq!(
            got,
            UserAgent {
                browser: None,
                version: None,
                os: None,
                device: "unknown",
                bot: None,
                scanner: false
            }
        );
        let got = ua("MyApp/3.2 (internal)");
        assert_eq!((got.browser, got.os, got.device, got.bot), (None, None, "unknown", None));
        // Case does not matter; non-ASCII text around tokens is fine.
        let got = ua("ÄÖÜ CHROME/99 windows");
        assert_eq!((got.browser, got.version, got.os), (Some("Chrome"), Some("99"), Some("Windows")));
        // Only the first KiB is looked at.
        let long = format!("{} sqlmap/1.0", "x".repeat(2000));
        assert!(!ua(&long).scanner);
        let json = ua("curl/8.5.0").to_json();
        assert_eq!(
            Value::Object(json),
            serde_json::json!({"device": "bot", "bot": true, "bot_name": "curl", "scanner": false})
        );
    }
}
