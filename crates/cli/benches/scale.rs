//! Scale benchmark (issue 18): click → patch in every view for 1,000 and
//! 10,000 views on one instance, and for 3 instances × 1,000 views sharing
//! one state through a real redis-server; clicks per second through Redis
//! with 1 and 3 instances, against one instance keeping its state in
//! memory or in a `--state-file`; the server's RSS and threads at each
//! size; and fan-out (issue 23): TodoMVC with 1,000 and 10,000 views, each
//! with its own filter, views that take the server's patches against views
//! that render themselves, one toggle at a time. Every instance runs with
//! `--rate-limit 0`, and clients connect to the instances directly (no
//! balancer).
//!
//! `cargo bench -p x64wasm-cli --bench scale [-- one|fanout|redis]` (needs
//! redis-server: `make test-deps`). Views are raw event-stream sockets read by one thread with
//! epoll(7) (10,000 threads or browsers do not fit a 2-core machine); a
//! click is `POST /execute/increment_counter` on a keep-alive connection,
//! sent to the instances in turn. The latency of a (click, view) pair is
//! from sending the click to that view's socket having the event.

#[path = "../tests/support/raw.rs"]
#[allow(dead_code)]
mod raw;
#[path = "../tests/support/scale.rs"]
#[allow(dead_code)]
mod scale;
#[path = "../tests/support/server.rs"]
#[allow(dead_code)]
mod server;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use server::{App, Client};

/// Event-stream sockets and the newest event id each has read, watched by
/// one epoll instance (so a wait costs what is ready, not what is open).
struct Crowd {
    sockets: Vec<TcpStream>,
    pending: Vec<Vec<u8>>,
    versions: Vec<Option<u64>>,
    epoll: std::os::fd::OwnedFd,
}

impl Crowd {
    /// `n` views spread over `addresses`, from 127.0.0.2-5 in turn (one
    /// address may hold a quarter of an instance's views), view `k`
    /// reading the event stream at `path(k)`.
    fn open(addresses: &[&str], n: usize, path: &mut dyn FnMut(usize) -> String) -> Crowd {
        // SAFETY: epoll_create1 returns a new descriptor or -1.
        let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(epoll >= 0, "epoll_create1");
        let mut crowd = Crowd {
            sockets: Vec::with_capacity(n),
            pending: Vec::with_capacity(n),
            versions: Vec::with_capacity(n),
            // SAFETY: a descriptor just made, owned by nothing else.
            epoll: unsafe { std::os::fd::FromRawFd::from_raw_fd(epoll) },
        };
        // in batches, each open before the next: connections that are not
        // views yet count against the server's request budget
        let deadline = Instant::now() + Duration::from_secs(300);
        for k in 0..n {
            let address = addresses[k % addresses.len()];
            let source =
                std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2 + (k % 4) as u8));
            let mut s = raw::connect_from(source, address).expect("connect a view");
            let path = path(k);
            write!(s, "GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n").unwrap();
            s.set_nonblocking(true).unwrap();
            let mut event = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: k as u64,
            };
            // SAFETY: valid descriptors and a valid event.
            let added = unsafe {
                libc::epoll_ctl(
                    crowd.epoll.as_raw_fd(),
                    libc::EPOLL_CTL_ADD,
                    s.as_raw_fd(),
                    &mut event,
                )
            };
            assert_eq!(added, 0, "epoll_ctl");
            crowd.sockets.push(s);
            crowd.pending.push(Vec::new());
            crowd.versions.push(None);
            if crowd.sockets.len().is_multiple_of(200) || crowd.sockets.len() == n {
                while crowd.versions.iter().any(Option::is_none) {
                    assert!(Instant::now() < deadline, "views did not open");
                    crowd.read(|_, _| {});
                }
            }
        }
        crowd
    }

    /// Waits (epoll, at most 100 ms) for readable sockets and reads each
    /// once; calls `arrived(view, version)` for each event id read.
    fn read(&mut self, mut arrived: impl FnMut(usize, u64)) {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
        // SAFETY: `events` is a valid array of that length.
        let ready = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                100,
            )
        };
        let mut buf = [0u8; 65536];
        for event in events.iter().take(ready.max(0) as usize) {
            let k = event.u64 as usize;
            // level-triggered: what one read leaves is reported again
            if let Ok(n) = self.sockets[k].read(&mut buf) {
                self.pending[k].extend_from_slice(&buf[..n]);
            }
            // complete lines only; the id line of each event
            let text = &self.pending[k];
            let end = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            for line in text[..end].split(|&b| b == b'\n') {
                if let Some(id) = line.strip_prefix(b"id: ") {
                    if let Some(v) = std::str::from_utf8(id)
                        .ok()
                        .and_then(|t| t.trim().parse().ok())
                    {
                        self.versions[k] = Some(v);
                        arrived(k, v);
                    }
                }
            }
            self.pending[k].drain(..end);
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Clicks on `apps` in turn while `crowd` listens; prints p50/p99 of
/// click → patch in a view and in every view, and RSS and threads.
fn click_to_patch(label: &str, apps: &[&App], crowd: &mut Crowd, clicks: usize) {
    click_to_event(label, apps, crowd, clicks, ("increment_counter", "[]"));
}

/// As [`click_to_patch`], clicking `callback` with `args` (JSON text).
fn click_to_event(
    label: &str,
    apps: &[&App],
    crowd: &mut Crowd,
    clicks: usize,
    (callback, args): (&str, &str),
) {
    let mut clients: Vec<Client> = apps.iter().map(|a| Client::connect(&a.address)).collect();
    let mut each = Vec::new();
    let mut every = Vec::new();
    let servers_cpu = || {
        apps.iter()
            .map(|a| server::cpu_time(a.pid()))
            .sum::<Duration>()
    };
    let (servers_before, reader_before) = (servers_cpu(), server::cpu_time(std::process::id()));
    for c in 0..clicks {
        let sent = Instant::now();
        let turn = c % clients.len();
        let version = clients[turn].execute(callback, args);
        let mut arrivals = vec![None; crowd.sockets.len()];
        for (k, v) in crowd.versions.iter().enumerate() {
            if v.is_some_and(|v| v >= version) {
                arrivals[k] = Some(sent.elapsed());
            }
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while arrivals.iter().any(Option::is_none) {
            assert!(
                Instant::now() < deadline,
                "views never got version {version}"
            );
            crowd.read(|k, v| {
                if v >= version && arrivals[k].is_none() {
                    arrivals[k] = Some(sent.elapsed());
                }
            });
        }
        let arrivals: Vec<Duration> = arrivals.into_iter().flatten().collect();
        every.push(*arrivals.iter().max().unwrap());
        each.extend(arrivals);
    }
    // what each click cost the server(s) and this process's reader in CPU:
    // on a 2-core machine, every view has its event no sooner than their
    // sum over 2
    let server_cpu = (servers_cpu() - servers_before) / clicks as u32;
    let reader_cpu = (server::cpu_time(std::process::id()) - reader_before) / clicks as u32;
    each.sort();
    every.sort();
    let rss: u64 = apps.iter().map(|a| a.proc_status("VmRSS")).sum();
    let threads: u64 = apps.iter().map(|a| a.proc_status("Threads")).sum();
    println!(
        "{label}: click -> patch in a view p50 {} p99 {} | in every view p50 {} p99 {} | \
         CPU per click: server {} reader {} | RSS {} MiB, {} threads",
        ms(percentile(&each, 0.5)),
        ms(percentile(&each, 0.99)),
        ms(percentile(&every, 0.5)),
        ms(percentile(&every, 0.99)),
        ms(server_cpu),
        ms(reader_cpu),
        rss / 1024,
        threads
    );
}

/// Clicks per second from 8 clients per instance for 3 s, a connection
/// per click (a refused click closes its connection); 503s (a click that
/// lost the compare-and-set 8 times) are counted apart.
fn throughput(label: &str, apps: &[&App]) {
    let run_for = Duration::from_secs(3);
    let start = Instant::now();
    let workers: Vec<_> = (0..8 * apps.len())
        .map(|k| {
            let address = apps[k % apps.len()].address.clone();
            std::thread::spawn(move || {
                let (mut ok, mut refused) = (0u64, 0u64);
                while start.elapsed() < run_for {
                    match scale::request_status(&address, "POST", "/execute/increment_counter") {
                        200 => ok += 1,
                        _ => refused += 1,
                    }
                }
                (ok, refused)
            })
        })
        .collect();
    let (ok, refused) = workers
        .into_iter()
        .map(|w| w.join().unwrap())
        .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{label}: {:.0} clicks/s acknowledged, {:.0}/s refused ({ok} and {refused} in {seconds:.2} s)",
        ok as f64 / seconds,
        refused as f64 / seconds
    );
}

/// A new view of an app with view state: `GET /`, and the id its page
/// carries.
fn new_view(client: &mut Client) -> String {
    let page = client.request("GET", "/", b"");
    let text = page.text();
    let start = text.find("data-view=\"").expect("a view id") + "data-view=\"".len();
    text[start..start + 32].to_string()
}

/// `callback` with `args` (JSON text) on view `id`; asserts a 200.
fn execute_on(client: &mut Client, id: &str, callback: &str, args: &str) {
    let body = format!(r#"{{"args":{args},"view":"{id}"}}"#);
    let reply = client.request("POST", &format!("/execute/{callback}"), body.as_bytes());
    assert_eq!(reply.status, 200, "{callback}{args}: {}", reply.text());
}

/// Fan-out (issue 23): the TodoMVC example (its todos shared, a filter
/// per view) with `views` open views, each showing one of the three
/// filters, and 20 todos; one toggle at a time. With `render_page` the
/// views' streams are opened as a page that renders itself opens them
/// (`render=page`: each view is sent its changed state, the server renders
/// nothing); without, as today's page without the view module (each view
/// is sent the server's patches of its own render).
fn todomvc_fanout(binary: &std::path::Path, views: usize, render_page: bool) {
    let app = App::start(
        binary,
        &["--headless", "--port", "0", "--rate-limit", "0"],
        &[],
    );
    let mut client = Client::connect(&app.address);
    let first = new_view(&mut client);
    for i in 0..20 {
        execute_on(&mut client, &first, "add_todo", &format!("[\"todo {i}\"]"));
    }
    let query = if render_page { "&render=page" } else { "" };
    let mut crowd = Crowd::open(&[&app.address], views, &mut |k| {
        let id = new_view(&mut client);
        execute_on(&mut client, &id, "show_filter", &format!("[{}]", k % 3));
        format!("/events?view={id}{query}")
    });
    let label = match render_page {
        true => format!("TodoMVC, {views} views rendering themselves (render=page)"),
        false => format!("TodoMVC, {views} views taking the server's patches"),
    };
    click_to_event(&label, &[&app], &mut crowd, 20, ("toggle_todo", "[1]"));
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // `cargo test --benches` builds it; only `cargo bench` runs it
    }
    // this process holds the views' sockets: up to the hard limit
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
    // `cargo bench --bench scale -- one` (or `redis`) runs one part
    let only = |part: &str| {
        let parts = ["one", "fanout", "redis"];
        let asked: Vec<String> = std::env::args()
            .filter(|a| parts.contains(&a.as_str()))
            .collect();
        asked.is_empty() || asked.iter().any(|a| a == part)
    };
    let local = ["--headless", "--port", "0", "--rate-limit", "0"];
    for views in [1000, 3000, 10_000] {
        if !only("one") {
            break;
        }
        let app = App::demo(&local);
        let mut crowd = Crowd::open(&[&app.address], views, &mut |_| "/events".into());
        click_to_patch(
            &format!("1 instance, {views} views"),
            &[&app],
            &mut crowd,
            100,
        );
    }
    if only("fanout") {
        let todomvc = server::release_example_binary("todomvc");
        for views in [1000, 10_000] {
            for render_page in [false, true] {
                todomvc_fanout(&todomvc, views, render_page);
            }
        }
    }
    if !only("redis") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("x64wasm-bench-redis-{}", std::process::id()));
    let redis = scale::Redis::start(&dir, scale::free_port());
    let apps: Vec<App> = (0..3).map(|_| redis.demo()).collect();
    let refs: Vec<&App> = apps.iter().collect();
    let addresses: Vec<&str> = apps.iter().map(|a| a.address.as_str()).collect();
    let mut crowd = Crowd::open(&addresses, 3000, &mut |_| "/events".into());
    click_to_patch(
        "3 instances through Redis, 3 x 1000 views",
        &refs,
        &mut crowd,
        100,
    );
    drop(crowd);
    let single = App::demo(&local);
    throughput("1 instance, state in memory", &[&single]);
    drop(single);
    let file = dir.join("bench.state");
    let file_args = [&local[..], &["--state-file", file.to_str().unwrap()]].concat();
    let saved = App::demo(&file_args);
    throughput("1 instance, --state-file", &[&saved]);
    drop(saved);
    throughput("1 instance through Redis", &refs[..1]);
    throughput("3 instances through Redis", &refs);
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}
