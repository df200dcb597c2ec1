//! The app builder: state, render, callbacks → one process that is a desktop
//! window and a web server at once.
//!
//! ```no_run
//! use x64wasm::{bound, callback, dom::{button, el, Node}, App, Callback};
//!
//! #[repr(C)]
//! #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
//! struct State { count: i64 }
//!
//! #[no_mangle]
//! pub extern "C" fn add_one(state: &mut State) { state.count = state.count.wrapping_add(1); }
//! const ADD_ONE: Callback<State> = callback!(add_one);
//!
//! fn render(state: &State) -> Node {
//!     el("div")
//!         .child(bound!(state, count))
//!         .child(button("+1").call(ADD_ONE, ()))
//!         .into()
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     App::new(State { count: 0 }, render).id("counter").callback(ADD_ONE).run()
//! }
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use bytemuck::Pod;

use crate::callbacks::{view_offset, Args, Both, Callback, Registration, Registry};
use crate::dom::Node;
use crate::process::{load_bias, running_image};
use crate::server::views::Views;
use crate::server::{self, allowed_hosts, Render, Running, Settings, Shared, Unavailable};
use crate::state_file::StateFile;
use crate::view_module::{self, ViewEntry};
use x64wasm_transpile::each_on_cores;

/// Command-line options of an app (`--help`; README "Two commands").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Serve browsers only, no window.
    pub headless: bool,
    /// The port (0: any free port).
    pub port: u16,
    /// The address to listen on.
    pub bind: IpAddr,
    /// More host names the server answers to (besides loopback and `bind`).
    pub allow_hosts: Vec<String>,
    /// Where the state is loaded from at start and saved after each change.
    pub state_file: Option<PathBuf>,
    /// The Redis URL the shared state lives at (several instances share
    /// it), if any.
    pub redis: Option<String>,
    /// Clicks per second per client address (0: no limit).
    pub rate_limit: u32,
    /// Balancers in front of the server (`--trusted-proxy`): their
    /// connections are held to no per-address share, and a click's client
    /// address is the last one in their `X-Forwarded-For`.
    pub trusted_proxies: Vec<IpAddr>,
    /// The most request connections open at once (`None`: from the
    /// descriptor limit, see [`server::http::Capacity::plan`]).
    pub max_connections: Option<usize>,
    /// The most open views (event streams) at once (`None`: from the
    /// descriptor limit).
    pub max_views: Option<usize>,
    /// The access token every request must carry (`--token`; else the
    /// environment's `X64WASM_TOKEN`; else, when the server listens on an
    /// address other machines reach, a random one).
    pub token: Option<String>,
    /// A view that shows no sign of life this long is closed (its page
    /// reconnects), and one silent for half of it may give its place to a
    /// newcomer when views are full (`--view-timeout`).
    pub view_timeout: std::time::Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            headless: false,
            port: 8080,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            allow_hosts: Vec::new(),
            state_file: None,
            redis: None,
            rate_limit: 100,
            trusted_proxies: Vec::new(),
            max_connections: None,
            max_views: None,
            token: None,
            view_timeout: server::http::VIEW_TIMEOUT,
        }
    }
}

/// Help for the options every app takes.
pub const OPTIONS_HELP: &str =
    "    --headless       serve browsers only; no desktop window (without a display,
                     DISPLAY and WAYLAND_DISPLAY unset, the app says so in one
                     line and does this anyway)
    --port N         port to serve on (default 8080; 0 picks a free port);
                     the environment variable RUN_AS_HTTP_SERVER=N does the same
    --bind ADDR      address to listen on (default 127.0.0.1, this machine only;
                     0.0.0.0 lets other machines' browsers in, with the token)
    --token TOKEN    the access token every request must carry (the URL the
                     server prints has it; a browser trades it for a cookie);
                     the environment variable X64WASM_TOKEN does the same.
                     Required on any address but loopback: without this, a
                     random one is made. On loopback none is asked unless
                     given. Letters, digits and - . _ ~
    --allow-host NAME
                     also answer requests for this host name (repeatable); other
                     names get 403 (DNS rebinding); loopback names and the
                     --bind address always work. With --bind 0.0.0.0, allow
                     the name or address remote browsers use
    --state-file PATH
                     load the state and version from PATH at start (created if
                     missing) and save every change there (write, fsync,
                     rename) before acknowledging it. The file names the app
                     (App::id): a damaged file, or another app's, stops
                     start-up with the reason and is left untouched
    --redis URL      keep the shared state in Redis (redis://host:port/), so that
                     several instances of this app serve one state; clicks get
                     503 while Redis is unreachable; not with --state-file
                     (docs/redis.md: guarantees, a balancer, when to use it)
    --rate-limit N   clicks per second per client address (IPv6: per /64), in
                     bursts of up to 2N (default 100; 0: no limit); more get 429
                     with Retry-After
    --trusted-proxy ADDR
                     a balancer in front of this server (repeatable): its
                     connections are not held to one address's share, and a
                     click's client address is the last in its X-Forwarded-For
                     (haproxy: option forwardfor); other clients' X-Forwarded-For
                     is ignored
    --max-connections N
                     connections open at once, not counting views (default: a
                     quarter of what the descriptor limit allows, at most 4096;
                     one address may hold a quarter of them); more get 503
    --max-views N    views (event streams) open at once (default: the rest of
                     the descriptor limit; a quarter per address); when full, a
                     newcomer takes the place of the view silent longest (half
                     of --view-timeout at least) of the address holding most;
                     else 503. Clicks never wait for views
    --view-timeout S a view whose WebSocket answers no ping for S seconds is
                     closed (its page reconnects); default 45. Pages are
                     pinged every third of it, and answer on their own, even
                     in background tabs
    -h, --help       this help
";

/// Walks command-line flags; a flag's value is the next argument or follows
/// `=` (`--port 8080`, `--port=8080`). Shared by every command's parser.
pub struct Flags<'a> {
    rest: std::slice::Iter<'a, String>,
    inline: Option<&'a str>,
}

impl<'a> Flags<'a> {
    /// Flags from `args`.
    pub fn new(args: &'a [String]) -> Flags<'a> {
        Flags {
            rest: args.iter(),
            inline: None,
        }
    }

    /// The next flag (without any `=value`).
    pub fn next_flag(&mut self) -> Option<&'a str> {
        let arg = self.rest.next()?;
        self.inline = None;
        match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                self.inline = Some(value);
                Some(flag)
            }
            _ => Some(arg),
        }
    }

    /// The value of `flag`, the flag just read.
    pub fn value(&mut self, flag: &str) -> Result<String, String> {
        self.inline
            .take()
            .or_else(|| self.rest.next().map(String::as_str))
            .map(str::to_string)
            .ok_or_else(|| format!("{flag} needs a value"))
    }
}

impl Options {
    /// Parses the app's arguments; `env_port` is `RUN_AS_HTTP_SERVER`, which
    /// `--port` overrides. `Err` carries the message for the user.
    pub fn parse(args: &[String], env_port: Option<&str>) -> Result<Options, String> {
        let mut options = Options::default();
        let port = |text: &str, from: &str| {
            text.trim()
                .parse::<u16>()
                .map_err(|_| format!("{from} must be a port number 0-65535, not `{text}`"))
        };
        if let Some(p) = env_port.filter(|p| !p.is_empty()) {
            options.port = port(p, "RUN_AS_HTTP_SERVER")?;
        }
        let count = |flag: &str, text: String| {
            text.parse()
                .ok()
                .filter(|&n: &usize| n > 0)
                .ok_or_else(|| format!("{flag} takes a count above 0, not `{text}`"))
        };
        let mut flags = Flags::new(args);
        while let Some(flag) = flags.next_flag() {
            let mut value = |name: &str| flags.value(name);
            match flag {
                "--headless" => options.headless = true,
                "--port" => options.port = port(&value("--port")?, "--port")?,
                "--bind" => {
                    let text = value("--bind")?;
                    let text = text.trim_start_matches('[').trim_end_matches(']');
                    options.bind = text
                        .parse()
                        .map_err(|_| format!("--bind must be an IP address, not `{text}`"))?;
                }
                "--allow-host" => {
                    let name = value("--allow-host")?;
                    if name.is_empty() || name.contains(['/', ' ']) {
                        return Err(format!("--allow-host takes a host name, not `{name}`"));
                    }
                    options.allow_hosts.push(name);
                }
                "--state-file" => options.state_file = Some(PathBuf::from(value("--state-file")?)),
                "--redis" => {
                    let url = value("--redis")?;
                    if !url.starts_with("redis://") && !url.starts_with("rediss://") {
                        return Err(format!(
                            "--redis takes a URL like redis://127.0.0.1:6379/, not `{url}`"
                        ));
                    }
                    options.redis = Some(url);
                }
                "--rate-limit" => {
                    let text = value("--rate-limit")?;
                    options.rate_limit = text.parse().map_err(|_| {
                        format!("--rate-limit takes clicks per second (0 for none), not `{text}`")
                    })?;
                }
                "--trusted-proxy" => {
                    let text = value("--trusted-proxy")?;
                    let text = text.trim_start_matches('[').trim_end_matches(']');
                    options.trusted_proxies.push(text.parse().map_err(|_| {
                        format!("--trusted-proxy must be an IP address, not `{text}`")
                    })?);
                }
                "--max-connections" => {
                    let text = value("--max-connections")?;
                    options.max_connections = Some(count("--max-connections", text)?);
                }
                "--token" => options.token = Some(checked_token(value("--token")?, "--token")?),
                "--view-timeout" => {
                    let text = value("--view-timeout")?;
                    let seconds = count("--view-timeout", text)?;
                    options.view_timeout = std::time::Duration::from_secs(seconds as u64);
                }
                "--max-views" => {
                    options.max_views = Some(count("--max-views", value("--max-views")?)?)
                }
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        if options.redis.is_some() && options.state_file.is_some() {
            return Err(
                "--redis and --state-file do not go together: with --redis the state lives \
                 in Redis (turn on its AOF persistence instead)"
                    .into(),
            );
        }
        Ok(options)
    }
}

/// `token` if it can travel in a URL's query and a cookie as it is
/// (`from` names where it came from, for the message).
fn checked_token(token: String, from: &str) -> Result<String, String> {
    // RFC 3986's unreserved characters: what no browser percent-encodes
    let fits = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    match !token.is_empty() && token.bytes().all(fits) {
        true => Ok(token),
        false => Err(format!(
            "{from} takes letters, digits and - . _ ~ (it travels in a URL and a cookie as it is)"
        )),
    }
}

/// An app: its shared state `S`, its per-view state `V` (`()` for none),
/// its view and its callbacks.
pub struct App<S, V = ()> {
    title: String,
    state: S,
    view_state: V,
    render: Render<S>,
    /// The entry of the view module (`view_module.rs`), or why there is none.
    view_entry: ViewEntry,
    callbacks: Vec<Registration<S>>,
    id: Option<String>,
    css: Option<&'static str>,
}

impl<S: Pod + Send + Sync + 'static> App<S> {
    /// An app starting from `state`, shown by `render`: every view shows
    /// the same. Pass the function itself (`render`): pages then run it,
    /// transpiled, on every state they show (a function pointer or a
    /// closure that captures values renders on the server only).
    pub fn new<R>(state: S, render: R) -> App<S>
    where
        R: Fn(&S) -> Node + Copy + Send + Sync + 'static,
    {
        App {
            title: "x64wasm".into(),
            state,
            view_state: (),
            render: Box::new(move |state, _| render(state)),
            view_entry: view_module::entry_shared(render),
            callbacks: Vec::new(),
            id: None,
            css: None,
        }
    }
}

impl<S: Pod + Send + Sync + 'static, V: Pod + Send + Sync + 'static> App<S, V> {
    /// An app starting from the shared `state`, whose every view also has
    /// its own copy of `view_state` (what its user is typing, editing or
    /// filtering), shown by `render(&Both { shared, view })` (docs/guide.md,
    /// "Per-view state"): `bound!(s, view.draft)` and
    /// `bound!(s, shared.count)` both bind, since a [`Both`] is laid out as
    /// the page holds the two states. Callbacks take the shared state ([`callback`](Self::callback)),
    /// the view's ([`view_callback`](Self::view_callback)) or both as one
    /// [`Both`] ([`both_callback`](Self::both_callback)).
    pub fn with_view_state<R>(state: S, view_state: V, render: R) -> App<S, V>
    where
        R: Fn(&Both<S, V>) -> Node + Copy + Send + Sync + 'static,
    {
        App {
            title: "x64wasm".into(),
            state,
            view_state,
            view_entry: view_module::entry_both(render),
            render: Box::new(move |state, view| {
                render(&Both {
                    shared: *state,
                    view: bytemuck::pod_read_unaligned::<V>(view),
                })
            }),
            callbacks: Vec::new(),
            id: None,
            css: None,
        }
    }

    /// The app's own style sheet (e.g. `include_str!("app.css")`), served
    /// at `/app.css` and linked after the library's, so its rules win.
    pub fn stylesheet(mut self, css: &'static str) -> App<S, V> {
        self.css = Some(css);
        self
    }

    /// Sets the window and page title.
    pub fn title(mut self, title: impl Into<String>) -> App<S, V> {
        self.title = title.into();
        self
    }

    /// Registers a callback (see [`callback!`](crate::callback)) that takes
    /// the shared state: views may run it, as wasm and on the server, and
    /// every view sees what it changes.
    pub fn callback<A: Args>(mut self, callback: Callback<S, A>) -> App<S, V> {
        self.callbacks.push(callback.registration());
        self
    }

    /// Registers a callback that takes the calling view's own state: only
    /// that view sees what it changes.
    pub fn view_callback<A: Args>(mut self, callback: Callback<V, A>) -> App<S, V> {
        self.callbacks.push(callback.view_registration());
        self
    }

    /// Registers a callback that takes both states, as `&mut Both<S, V>`.
    pub fn both_callback<A: Args>(mut self, callback: Callback<Both<S, V>, A>) -> App<S, V> {
        self.callbacks.push(callback.both_registration());
        self
    }

    /// Sets the app's id, which `--state-file` records so that a file
    /// another app wrote is refused (default: the title). Keep it when the
    /// state's layout stays the same; change it when it does not.
    pub fn id(mut self, id: impl Into<String>) -> App<S, V> {
        self.id = Some(id.into());
        self
    }

    /// Runs with the process's arguments: the window and the server, or the
    /// server only (`--headless`, or no display). Returns when the window
    /// closes; serves forever when headless.
    pub fn run(self) -> ExitCode {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.iter().any(|a| a == "-h" || a == "--help") {
            let program = std::env::args().next().unwrap_or_else(|| "app".into());
            print!(
                "{}\n\nUSAGE:\n    {program} [OPTIONS]\n\nOPTIONS:\n{OPTIONS_HELP}",
                self.title
            );
            return ExitCode::SUCCESS;
        }
        let env_port = std::env::var("RUN_AS_HTTP_SERVER").ok();
        match Options::parse(&args, env_port.as_deref()) {
            Ok(options) => self.run_with(&options),
            Err(message) => {
                eprintln!("error: {message}; see --help");
                ExitCode::from(2)
            }
        }
    }

    /// Runs with explicit options (see [`run`](App::run)).
    pub fn run_with(self, options: &Options) -> ExitCode {
        // Before any thread starts: set_var is only sound single-threaded.
        if std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_none() {
            std::env::set_var("WEBKIT_DISABLE_DMABUF_RENDERER", "1");
        }
        let title = self.title.clone();
        let running = match self.start(options) {
            Ok(started) => started,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::FAILURE;
            }
        };
        println!("x64wasm: serving on {}", running.url);
        if running.url.contains("?token=") {
            println!(
                "x64wasm: every request needs the access token: open the URL above (it trades \
                 the token for a cookie); scripts send `Authorization: Bearer TOKEN`"
            );
        }
        if options.bind.is_unspecified() && options.allow_hosts.is_empty() {
            println!(
                "x64wasm: listening on every interface; browsers on other machines must use a \
                 host name or address given with --allow-host (others get 403)"
            );
        }
        if !options.headless {
            match open_window(&running.url, &title) {
                Ok(()) => return ExitCode::SUCCESS,
                Err(why) => println!("x64wasm: {why}: serving headless"),
            }
        }
        running.wait();
        ExitCode::SUCCESS
    }

    /// Binds, resolves the callbacks against this binary and starts serving.
    /// Prints a warning for each callback that can run on the server only.
    fn start(self, options: &Options) -> Result<Running, String> {
        let descriptors = server::http::raise_descriptor_limit();
        let (mut capacity, warning) =
            server::http::Capacity::plan(descriptors, options.max_connections, options.max_views)?;
        capacity.trusted = options.trusted_proxies.clone();
        capacity.view_timeout = options.view_timeout;
        if let Some(warning) = warning {
            eprintln!("x64wasm: warning: {warning}");
        }
        let listener = server::bind(options.bind, options.port)?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let token = access_token(options)?;
        let mut image = running_image().map_err(|e| format!("reading this executable: {e}"));
        let (registry, warnings) =
            Registry::resolve(self.callbacks, image.as_mut().ok(), load_bias())?;
        // The view module's entry gets a name the transpiler exports it by.
        let view_entry = match (&self.view_entry, image.as_mut()) {
            (Err(why), _) => Err(why.clone()),
            (Ok(_), Err(why)) => Err(why.clone()),
            (Ok(address), Ok(image)) => image
                .name_function(
                    view_module::VIEW_EXPORT,
                    (*address as u64).wrapping_sub(load_bias()),
                )
                .map_err(|e| e.to_string()),
        };
        for w in &warnings {
            eprintln!("x64wasm: warning: {w}");
        }
        // A view that calls a callback the app does not register would fail
        // only on a click ("no callback named …"): refuse to start instead.
        let view = (self.render)(&self.state, bytemuck::bytes_of(&self.view_state));
        let missing: Vec<String> = view
            .call_names()
            .into_iter()
            .filter(|name| registry.get(name).is_none())
            .collect();
        if let Some(name) = missing.first() {
            return Err(format!(
                "the view calls `{name}`, which the app does not register: add \
                 `.callback(HANDLE)` with its `callback!` handle to the App{}",
                match missing.len() {
                    1 => String::new(),
                    n => format!(" ({} more: {})", n - 1, missing[1..].join(", ")),
                }
            ));
        }
        let id = self.id.clone().unwrap_or_else(|| self.title.clone());
        let mut redis = None;
        let mut tag = String::new();
        let mut applied = server::clicks::Applied::default();
        let (start, state_file) = match &options.state_file {
            Some(path) => {
                let file = StateFile::new(path, &id, std::mem::size_of::<S>());
                let start = match file.load()? {
                    Some(saved) => {
                        let version = saved.version;
                        println!("x64wasm: resumed version {version} from {}", path.display());
                        if !saved.clicks.is_empty() {
                            applied = server::clicks::Applied::from_bytes(&saved.clicks).map_err(
                                |why| {
                                    format!(
                                        "state file {} {why}; it was left untouched",
                                        path.display()
                                    )
                                },
                            )?;
                        }
                        (bytemuck::pod_read_unaligned(&saved.state), version)
                    }
                    None => {
                        // Create it now: a path that cannot be written is an
                        // error at start, not at the first click.
                        file.save(0, bytemuck::bytes_of(&self.state), &applied.to_bytes())
                            .map_err(|e| {
                                format!("cannot write state file {}: {e}", path.display())
                            })?;
                        (self.state, 0)
                    }
                };
                (start, Some(file))
            }
            None => match &options.redis {
                Some(url) => {
                    let (store, held) = server::redis::RedisStore::open(
                        url,
                        &id,
                        std::mem::size_of::<S>(),
                        bytemuck::bytes_of(&self.state),
                    )?;
                    println!(
                        "x64wasm: the shared state is in Redis at {} (version {})",
                        server::redis::redacted(url),
                        held.version
                    );
                    redis = Some(store);
                    tag = held.tag;
                    (
                        (bytemuck::pod_read_unaligned(&held.state), held.version),
                        None,
                    )
                }
                None => ((self.state, 0), None),
            },
        };
        // an app without view state (V = ()) keeps none
        let view_states = (std::mem::size_of::<V>() > 0).then(|| {
            Views::new(
                view_offset::<S, V>(),
                bytemuck::bytes_of(&self.view_state).to_vec(),
            )
        });
        let shared = Arc::new(Shared::new(
            self.title,
            start,
            (self.render, view_states),
            registry,
            image,
            Settings {
                allowed_hosts: allowed_hosts(options.bind, &options.allow_hosts),
                state_file,
                rate_limit: options.rate_limit,
                trusted_proxies: options.trusted_proxies.clone(),
                app_css: self.css,
                redis,
                tag,
                view_entry,
                auth: token.as_deref().map(|t| server::auth::Auth::new(t, port)),
                applied,
                app_id: id.clone(),
            },
        ));
        // Transpile every callback now (views are served what this makes),
        // so a callback that cannot run as wasm is reported at start; on
        // every core, each callback its own module.
        let mut transpiled = 0;
        let all = shared.registry.all();
        let made = each_on_cores(all, |callback| shared.wasm(callback));
        for (callback, made) in all.iter().zip(made) {
            match made {
                Ok(served) => {
                    transpiled += 1;
                    if let Some((address, name)) = served.module.variables.first() {
                        eprintln!(
                            "x64wasm: warning: callback `{}` uses static data (`{name}` at \
                             {address:#x}): views run it on that data's initial value, so its \
                             prediction can differ from the server (keep what changes in the state)",
                            callback.name
                        );
                    }
                    if let Some((function, why)) = served.module.unavailable.first() {
                        eprintln!(
                            "x64wasm: warning: callback `{}` may call `{function}` through a \
                             pointer, which cannot run as wasm ({why}): views that reach it let \
                             the server run the click alone",
                            callback.name
                        );
                    }
                    if let Some((at, what)) = served.module.unreadable.first() {
                        eprintln!(
                            "x64wasm: warning: callback `{}` may read {what} (at {at}); a \
                             module has no copy of it, so a view that reaches that read lets \
                             the server run the click alone",
                            callback.name
                        );
                    }
                }
                Err(Unavailable::Transpile(e)) => eprintln!(
                    "x64wasm: warning: callback `{}` runs on the server only: {e}",
                    callback.name
                ),
                Err(Unavailable::NoSymbol(_)) => {} // warned above
            }
        }
        println!(
            "x64wasm: {} callback(s), {transpiled} transpiled to wasm from this binary's machine code",
            shared.registry.all().len()
        );
        match shared.view_wasm() {
            Ok(served) => println!(
                "x64wasm: the view (render and diff) transpiled to wasm: pages show every change \
                 at once ({} KB)",
                served.module.wasm.len().div_ceil(1024)
            ),
            Err(why) => eprintln!(
                "x64wasm: warning: the view renders on the server only, so pages show only \
                 bound fields at once: {why}"
            ),
        }
        let view_refused = shared.view_wasm().is_err(); // (made once, above)
        if cfg!(debug_assertions) && (transpiled < shared.registry.all().len() || view_refused) {
            eprintln!(
                "x64wasm: note: this is a debug build, whose machine code the transpiler often \
                 cannot bound: build with --release (cargo run --release) so that pages run \
                 the callbacks and the view themselves"
            );
        }
        println!(
            "x64wasm: up to {} connections and {} views at once ({} per address; descriptor \
             limit {descriptors})",
            capacity.requests, capacity.views, capacity.requests_per_address,
        );
        let mut running = server::serve(shared, listener, capacity)?;
        if let Some(token) = token {
            running.url = format!("{}?{}={token}", running.url, server::auth::TOKEN_PARAMETER);
        }
        Ok(running)
    }
}

/// The token every request must carry, if any: `--token`, else
/// `X64WASM_TOKEN`, else a random one when the server listens on an
/// address other machines can reach (README "Who can get in").
fn access_token(options: &Options) -> Result<Option<String>, String> {
    let variable = server::auth::TOKEN_VARIABLE;
    let given = match (&options.token, std::env::var(variable)) {
        (Some(token), _) => Some(token.clone()),
        (None, Ok(token)) if !token.is_empty() => Some(checked_token(token, variable)?),
        _ => None,
    };
    Ok(match (given, options.bind.is_loopback()) {
        (Some(token), _) => Some(token),
        (None, false) => Some(server::auth::Auth::random_token()),
        (None, true) => None,
    })
}

/// Opens the desktop window on `url` and returns when it is closed; `Err`
/// says why there is no window.
fn open_window(url: &str, title: &str) -> Result<(), String> {
    let display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    if !display {
        return Err("no display (DISPLAY and WAYLAND_DISPLAY are unset)".into());
    }
    #[cfg(feature = "desktop")]
    {
        crate::desktop::open(url, title)
    }
    #[cfg(not(feature = "desktop"))]
    {
        let _ = (url, title);
        Err("built without the `desktop` feature".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[no_mangle]
    extern "C" fn x64wasm_test_registered(state: &mut u64) {
        *state += 1;
    }

    #[no_mangle]
    extern "C" fn x64wasm_test_forgotten(state: &mut u64) {
        *state += 2;
    }

    const REGISTERED: crate::Callback<u64> = crate::callback!(x64wasm_test_registered);
    const FORGOTTEN: crate::Callback<u64> = crate::callback!(x64wasm_test_forgotten);

    fn two_buttons(_: &u64) -> crate::dom::Node {
        crate::dom::el("div")
            .child(crate::dom::button("a").call(REGISTERED, ()))
            .child(crate::dom::button("b").call(FORGOTTEN, ()))
            .into()
    }

    #[test]
    fn a_view_that_calls_a_callback_the_app_does_not_register_does_not_start() {
        let options = Options {
            headless: true,
            port: 0,
            ..Options::default()
        };
        let started = App::new(0u64, two_buttons)
            .callback(REGISTERED)
            .start(&options);
        let Err(why) = started else {
            panic!("it started");
        };
        assert_eq!(
            why,
            "the view calls `x64wasm_test_forgotten`, which the app does not register: add \
             `.callback(HANDLE)` with its `callback!` handle to the App"
        );
    }

    #[test]
    fn options_parse_and_explain_mistakes() {
        let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let ok: &[(&str, Option<&str>, Options)] = &[
            ("", None, Options::default()),
            (
                "--headless --port 0",
                None,
                Options {
                    headless: true,
                    port: 0,
                    ..Options::default()
                },
            ),
            (
                "",
                Some("9000"),
                Options {
                    port: 9000,
                    ..Options::default()
                },
            ),
            (
                "--port=81",
                Some("9000"),
                Options {
                    port: 81,
                    ..Options::default()
                },
            ),
            (
                "--bind 0.0.0.0",
                None,
                Options {
                    bind: "0.0.0.0".parse().unwrap(),
                    ..Options::default()
                },
            ),
            (
                "--bind [::1]",
                None,
                Options {
                    bind: "::1".parse().unwrap(),
                    ..Options::default()
                },
            ),
            (
                "--rate-limit 0 --max-connections 9 --max-views=7",
                None,
                Options {
                    rate_limit: 0,
                    max_connections: Some(9),
                    max_views: Some(7),
                    ..Options::default()
                },
            ),
            (
                "--trusted-proxy 10.0.0.1 --trusted-proxy=[::1]",
                None,
                Options {
                    trusted_proxies: vec!["10.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
                    ..Options::default()
                },
            ),
            (
                "--token a-Z_0.9~ --view-timeout 4",
                None,
                Options {
                    token: Some("a-Z_0.9~".into()),
                    view_timeout: std::time::Duration::from_secs(4),
                    ..Options::default()
                },
            ),
        ];
        for (text, env, want) in ok {
            assert_eq!(
                Options::parse(&args(text), *env).as_ref(),
                Ok(want),
                "{text}"
            );
        }
        let bad: &[(&str, Option<&str>, &str)] = &[
            ("--port", None, "--port needs a value"),
            (
                "--port 70000",
                None,
                "--port must be a port number 0-65535, not `70000`",
            ),
            (
                "",
                Some("x"),
                "RUN_AS_HTTP_SERVER must be a port number 0-65535, not `x`",
            ),
            (
                "--bind localhost",
                None,
                "--bind must be an IP address, not `localhost`",
            ),
            ("--frobnicate", None, "unknown argument `--frobnicate`"),
            (
                "--trusted-proxy lb.example",
                None,
                "--trusted-proxy must be an IP address, not `lb.example`",
            ),
            (
                "--rate-limit -1",
                None,
                "--rate-limit takes clicks per second (0 for none), not `-1`",
            ),
            (
                "--max-connections 0",
                None,
                "--max-connections takes a count above 0, not `0`",
            ),
            (
                "--max-views x",
                None,
                "--max-views takes a count above 0, not `x`",
            ),
            (
                "--token a'b",
                None,
                "--token takes letters, digits and - . _ ~ (it travels in a URL and a cookie as it is)",
            ),
            (
                "--view-timeout 0",
                None,
                "--view-timeout takes a count above 0, not `0`",
            ),
        ];
        for (text, env, want) in bad {
            assert_eq!(
                Options::parse(&args(text), *env).unwrap_err(),
                *want,
                "{text}"
            );
        }
    }
}
