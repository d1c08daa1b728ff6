//! Queues under `verge dev`: a worker that produces on each request and consumes into KV, as a
//! user's would — 1,000 messages sent under load each processed, a delayed message held back,
//! batches cut by size and by timeout, retries up to `max_retries` and then the dead-letter
//! queue, an explicit `ack()` kept when the handler throws, every content type, Cloudflare's
//! size limit named; and SIGKILL between send and consume losing no message whose `send`
//! resolved, while an acknowledged one is not delivered again; batches in flight bounded by
//! `max_concurrency`; under `verge serve`, a batch in `verge tail`, and the queues listed,
//! counted and purged.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;
use support::{client, get, DevServer};

const WORKER: &str = r#"
let running = 0;
let most = 0;
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const n = url.searchParams.get('n');
    switch (url.pathname) {
      case '/send':
        await env.JOBS.send({ n: Number(n) });
        return new Response('sent');
      case '/later':
        await env.JOBS.send({ n: Number(n), at: Date.now() }, { delaySeconds: 1 });
        return new Response('sent');
      case '/batch': {
        const messages = Array.from({ length: Number(n) }, (_, i) => ({ body: `m${i}`, contentType: 'text' }));
        await env.BATCHED.sendBatch(messages);
        return new Response('sent');
      }
      case '/flaky':
        await env.FLAKY.send(n, { contentType: 'text' });
        return new Response('sent');
      case '/kinds':
        await env.KINDS.sendBatch([
          { body: { json: true } },
          { body: 'plain', contentType: 'text' },
          { body: new Uint8Array([1, 2, 3]), contentType: 'bytes' },
          { body: new Map([['at', new Date(0)]]), contentType: 'v8' },
        ]);
        return new Response('sent');
      case '/throws':
        await env.THROWS.sendBatch([{ body: 'keep' }, { body: 'again' }]);
        return new Response('sent');
      case '/parallel':
        await env.PARALLEL.sendBatch([1, 2, 3, 4, 5, 6].map((body) => ({ body })));
        return new Response('sent');
      case '/too-large':
        try {
          await env.JOBS.send('x'.repeat(130000), { contentType: 'text' });
          return new Response('sent');
        } catch (error) {
          return new Response(`${error.name}: ${error.message}`, { status: 400 });
        }
      case '/get':
        return new Response((await env.KV.get(url.searchParams.get('key'))) ?? 'none');
      case '/count': {
        let count = 0;
        let cursor;
        do {
          const page = await env.KV.list({ prefix: url.searchParams.get('prefix'), cursor });
          count += page.keys.length;
          cursor = page.list_complete ? undefined : page.cursor;
        } while (cursor);
        return new Response(String(count));
      }
      case '/values': {
        const { keys } = await env.KV.list({ prefix: url.searchParams.get('prefix') });
        const values = await Promise.all(keys.map((key) => env.KV.get(key.name)));
        return Response.json(values);
      }
    }
    return new Response('no such path', { status: 404 });
  },

  async queue(batch, env) {
    switch (batch.queue) {
      case 'jobs':
        for (const message of batch.messages) {
          const { n, at } = message.body;
          const seen = Number((await env.KV.get(`seen:${n}`)) ?? 0);
          await env.KV.put(`seen:${n}`, String(seen + 1));
          await env.KV.put(`done:${n}`, String(message.attempts));
          if (at !== undefined) await env.KV.put(`waited:${n}`, String(Date.now() - at));
        }
        return;
      case 'batched': {
        const waited = Date.now() - batch.messages[0].timestamp.getTime();
        await env.KV.put(`batch:${batch.messages[0].body}`, JSON.stringify([batch.messages.length, waited]));
        batch.ackAll();
        return;
      }
      case 'flaky':
        for (const message of batch.messages) {
          const tries = (await env.KV.get(`tries:${message.body}`)) ?? '';
          await env.KV.put(`tries:${message.body}`, `${tries}${message.attempts}@${Date.now()},`);
          message.retry({ delaySeconds: 1 });
        }
        return;
      case 'flaky-dlq':
        for (const message of batch.messages) await env.KV.put(`dead:${message.body}`, String(message.attempts));
        return;
      case 'kinds': {
        const describe = (body) => body instanceof ArrayBuffer
          ? `bytes ${[...new Uint8Array(body)]}`
          : body instanceof Map ? `map ${body.get('at').toISOString()}` : JSON.stringify(body);
        await env.KV.put('kinds', batch.messages.map((m) => describe(m.body)).join(' | '));
        return;
      }
      case 'parallel':
        running += 1;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 200));
        running -= 1;
        await env.KV.put(`parallel:${batch.messages[0].body}`, String(most));
        return;
      case 'throws':
        for (const message of batch.messages) {
          const seen = (await env.KV.get(`thrown:${message.body}`)) ?? '';
          await env.KV.put(`thrown:${message.body}`, `${seen}${message.attempts},`);
        }
        if (batch.messages.some((m) => m.attempts > 1)) return;
        batch.messages.find((m) => m.body === 'keep')?.ack();
        throw new Error('the batch failed');
    }
  },
};
"#;

const CONFIG: &str = r#"name = "queues"
main = "index.js"
kv_namespaces = [{ binding = "KV" }]

[[queues.producers]]
binding = "JOBS"
queue = "jobs"

[[queues.producers]]
binding = "BATCHED"
queue = "batched"

[[queues.producers]]
binding = "FLAKY"
queue = "flaky"

[[queues.producers]]
binding = "KINDS"
queue = "kinds"

[[queues.producers]]
binding = "THROWS"
queue = "throws"

[[queues.producers]]
binding = "PARALLEL"
queue = "parallel"

[[queues.consumers]]
queue = "parallel"
max_batch_size = 1
max_batch_timeout = 0
max_concurrency = 2

[[queues.consumers]]
queue = "jobs"
max_batch_size = 100
max_batch_timeout = JOBS_TIMEOUT

[[queues.consumers]]
queue = "batched"
max_batch_size = 5
max_batch_timeout = 1

[[queues.consumers]]
queue = "flaky"
max_retries = 2
dead_letter_queue = "flaky-dlq"
max_batch_timeout = 0

[[queues.consumers]]
queue = "flaky-dlq"
max_batch_timeout = 0

[[queues.consumers]]
queue = "kinds"
max_batch_timeout = 0

[[queues.consumers]]
queue = "throws"
max_batch_timeout = 0
"#;

/// The project, its `jobs` consumer waiting `jobs_timeout` seconds for a batch to fill.
fn write_project(dir: &std::path::Path, jobs_timeout: &str) {
    std::fs::write(dir.join("index.js"), WORKER).unwrap();
    std::fs::write(
        dir.join("wrangler.toml"),
        CONFIG.replace("JOBS_TIMEOUT", jobs_timeout),
    )
    .unwrap();
}

fn call(server: &DevServer, path: &str) -> (u16, String) {
    let reply = get(&client(), &format!("{}{path}", server.base));
    (reply.status, reply.body)
}

/// Waits (bounded) until `path` answers `expected`; what it answered last.
fn wait_for(server: &DevServer, path: &str, expected: &str, bound: Duration) -> String {
    let mut last = String::new();
    support::wait_until(bound, || {
        last = call(server, path).1;
        last == expected
    });
    last
}

#[test]
fn producers_and_consumers_run_under_verge_dev() {
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path(), "0.05");
    let server = DevServer::start(dir.path(), &["--threads", "2"]);

    // 1,000 messages from 8 clients at once: each is processed, once.
    std::thread::scope(|scope| {
        for client_index in 0..8 {
            let server = &server;
            scope.spawn(move || {
                for i in 0..125 {
                    let n = client_index * 125 + i;
                    assert_eq!(call(server, &format!("/send?n={n}")), (200, "sent".into()));
                }
            });
        }
    });
    let done = wait_for(
        &server,
        "/count?prefix=done:",
        "1000",
        Duration::from_secs(60),
    );
    assert_eq!(done, "1000");
    let deliveries = call(&server, "/values?prefix=seen:").1;
    let deliveries: Vec<String> = serde_json::from_str(&deliveries).unwrap();
    assert_eq!(deliveries.len(), 1000);
    assert!(deliveries.iter().all(|d| d == "1"), "{deliveries:?}");

    // A delayed message waits its delay.
    assert_eq!(call(&server, "/later?n=5000").0, 200);
    let delivered = wait_for(&server, "/get?key=done:5000", "1", Duration::from_secs(10));
    assert_eq!(delivered, "1");
    let waited: u64 = call(&server, "/get?key=waited:5000").1.parse().unwrap();
    assert!(waited >= 1000, "delivered after {waited} ms");

    // Twelve messages at once, batches of five: two full at once, the rest at the timeout.
    assert_eq!(call(&server, "/batch?n=12").0, 200);
    let batches = wait_for(
        &server,
        "/count?prefix=batch:",
        "3",
        Duration::from_secs(10),
    );
    assert_eq!(batches, "3");
    let batches: Vec<String> =
        serde_json::from_str(&call(&server, "/values?prefix=batch:").1).unwrap();
    let mut batches: Vec<(u64, u64)> = batches
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    batches.sort();
    assert_eq!(
        batches.iter().map(|(size, _)| *size).collect::<Vec<_>>(),
        [2, 5, 5],
        "{batches:?}"
    );
    assert!(
        batches[0].1 >= 900,
        "the partial batch came early: {batches:?}"
    );

    // Retried a second later each time until max_retries, then the dead-letter queue.
    assert_eq!(call(&server, "/flaky?n=f1").0, 200);
    let dead = wait_for(&server, "/get?key=dead:f1", "1", Duration::from_secs(15));
    assert_eq!(dead, "1");
    let tries = call(&server, "/get?key=tries:f1").1;
    let tries: Vec<(u32, u64)> = tries
        .trim_end_matches(',')
        .split(',')
        .map(|t| {
            let (attempt, at) = t.split_once('@').unwrap();
            (attempt.parse().unwrap(), at.parse().unwrap())
        })
        .collect();
    assert_eq!(
        tries
            .iter()
            .map(|(attempt, _)| *attempt)
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(
        tries.windows(2).all(|pair| pair[1].1 - pair[0].1 >= 950),
        "retried before its delay: {tries:?}"
    );

    // Each content type comes back as it was sent.
    assert_eq!(call(&server, "/kinds").0, 200);
    let kinds = "{\"json\":true} | \"plain\" | bytes 1,2,3 | map 1970-01-01T00:00:00.000Z";
    assert_eq!(
        wait_for(&server, "/get?key=kinds", kinds, Duration::from_secs(10)),
        kinds
    );

    // A handler that throws: what it acknowledged stays acknowledged, the rest comes again.
    assert_eq!(call(&server, "/throws").0, 200);
    let again = wait_for(
        &server,
        "/get?key=thrown:again",
        "1,2,",
        Duration::from_secs(10),
    );
    assert_eq!(again, "1,2,");
    assert_eq!(call(&server, "/get?key=thrown:keep").1, "1,");
    assert!(
        server.stderr().contains("the batch failed"),
        "{}",
        server.stderr()
    );

    // Batches of one, two at a time: never more in flight than max_concurrency.
    assert_eq!(call(&server, "/parallel").0, 200);
    let done = wait_for(
        &server,
        "/count?prefix=parallel:",
        "6",
        Duration::from_secs(10),
    );
    assert_eq!(done, "6");
    let most: Vec<String> =
        serde_json::from_str(&call(&server, "/values?prefix=parallel:").1).unwrap();
    let most = most.iter().map(|m| m.parse::<u32>().unwrap()).max();
    assert_eq!(most, Some(2));

    // Cloudflare's limit on a message, named.
    let (status, refused) = call(&server, "/too-large");
    assert_eq!(status, 400);
    assert!(
        refused.contains("TypeError") && refused.contains("128000"),
        "{refused}"
    );
}

#[test]
fn a_sent_message_survives_kill_9_and_an_acknowledged_one_is_not_delivered_again() {
    let dir = tempfile::tempdir().unwrap();
    // The batch waits 30 s to fill: the server is killed while it holds the messages.
    write_project(dir.path(), "30");
    let mut server = DevServer::start(dir.path(), &[]);
    for n in 0..10 {
        assert_eq!(call(&server, &format!("/send?n={n}")), (200, "sent".into()));
    }
    assert_eq!(call(&server, "/count?prefix=done:").1, "0");
    server.kill();

    // Restarted with batches cut at once: every message whose send resolved is processed.
    write_project(dir.path(), "0");
    let mut server = DevServer::start(dir.path(), &[]);
    let done = wait_for(
        &server,
        "/count?prefix=done:",
        "10",
        Duration::from_secs(30),
    );
    assert_eq!(done, "10");
    // Killed only once the batch is settled: the queue is empty.
    let settled = support::wait_until(Duration::from_secs(10), || {
        let listed = support::verge()
            .args(["queues", "list", "--config"])
            .arg(dir.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&listed.stdout)
            .lines()
            .any(|line| line.split_whitespace().collect::<Vec<_>>() == ["jobs", "0", "0"])
    });
    assert!(settled);
    server.kill();

    // Once more: the acknowledged ones stay acknowledged. A message sent after the restart is
    // delivered after any that would come again.
    let server = DevServer::start(dir.path(), &[]);
    assert_eq!(call(&server, "/send?n=100").0, 200);
    assert_eq!(
        wait_for(&server, "/get?key=done:100", "1", Duration::from_secs(30)),
        "1"
    );
    let deliveries: Vec<String> =
        serde_json::from_str(&call(&server, "/values?prefix=seen:").1).unwrap();
    assert_eq!(deliveries.len(), 11);
    assert!(deliveries.iter().all(|d| d == "1"), "{deliveries:?}");
}

/// `verge serve` consumes too, and its queues are listed, counted in `/metrics` and purged
/// through the admin API (`verge queues … --server`) or from its data directory.
#[test]
fn queues_are_listed_counted_and_purged() {
    const TOKEN: &str = "queues-admin-token-0123456789abcdef";
    let dir = tempfile::tempdir().unwrap();
    support::tenant(
        dir.path(),
        "app",
        "export default {\n\
           async fetch(request, env) {\n\
             const url = new URL(request.url);\n\
             if (url.pathname === '/hold') { await env.HELD.send('waiting'); return new Response('held'); }\n\
             if (url.pathname === '/flow') { await env.FLOWING.send('moving'); return new Response('sent'); }\n\
             return new Response((await env.KV.get('flowed')) ?? 'none');\n\
           },\n\
           async queue(batch, env) { console.log('consumed', batch.messages[0].body); await env.KV.put('flowed', batch.messages[0].body); },\n\
         };\n",
        "route = \"app.test/*\"\nkv_namespaces = [{ binding = \"KV\" }]\n\
         [[queues.producers]]\nbinding = \"HELD\"\nqueue = \"held\"\n\
         [[queues.producers]]\nbinding = \"FLOWING\"\nqueue = \"flowing\"\n\
         [[queues.consumers]]\nqueue = \"flowing\"\nmax_batch_timeout = 0\n",
    );
    let config = dir.path().join("verge.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\n\n[admin]\n\
             listen = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n\n[[workers]]\npath = \"app\"\n"
        ),
    )
    .unwrap();
    let server = DevServer::serve(&config, &[]);
    let admin = server
        .stdout()
        .lines()
        .find_map(|l| l.strip_prefix("Admin API on ").map(|a| a.trim().to_owned()))
        .unwrap();
    let at = |path: &str| support::get_host(&server.base, "app.test", path).body;
    for _ in 0..3 {
        assert_eq!(at("/hold"), "held");
    }
    // `verge tail` shows each batch with its lines.
    let mut tail = support::verge()
        .args(["tail", "app", "--server", &admin, "--token", TOKEN])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let tailed = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    {
        let (tailed, stdout) = (tailed.clone(), tail.stdout.take().unwrap());
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                tailed.lock().unwrap().push_str(&(line + "\n"));
            }
        });
    }
    assert!(support::wait_until(Duration::from_secs(10), || tailed
        .lock()
        .unwrap()
        .contains("tailing app")));
    assert_eq!(at("/flow"), "sent");
    let shown = support::wait_until(Duration::from_secs(10), || {
        tailed
            .lock()
            .unwrap()
            .contains("[queue] flowing (1 messages) ok\n[log] consumed moving")
    });
    let _ = tail.kill();
    let _ = tail.wait();
    assert!(shown, "{}", tailed.lock().unwrap());
    let mut flowed = String::new();
    support::wait_until(Duration::from_secs(10), || {
        flowed = at("/");
        flowed == "moving"
    });
    assert_eq!(flowed, "moving");

    let queues = |args: &[&str]| {
        let output = support::verge().arg("queues").args(args).output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        text
    };
    let row = |listing: &str, queue: &str| -> Vec<String> {
        let line = listing
            .lines()
            .find(|line| line.split_whitespace().next() == Some(queue))
            .unwrap_or_else(|| panic!("no {queue} in {listing}"));
        line.split_whitespace().skip(1).map(str::to_owned).collect()
    };
    let remote = ["--server", admin.as_str(), "--token", TOKEN];
    let listing = queues(&[&["list"][..], &remote].concat());
    assert_eq!(row(&listing, "held"), ["3", "3"], "{listing}");
    assert_eq!(row(&listing, "flowing"), ["0", "0"], "{listing}");
    // From the data directory, beside the running server.
    let app = dir.path().join("app");
    let data = dir.path().join("data");
    let local = [
        "--config",
        app.to_str().unwrap(),
        "--persist-to",
        data.to_str().unwrap(),
    ];
    let listing = queues(&[&["list"][..], &local].concat());
    assert_eq!(row(&listing, "held"), ["3", "3"], "{listing}");

    let metrics = {
        let request = http::Request::get(format!("{admin}/metrics"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Vec::new())
            .unwrap();
        support::send(&client(), request).body
    };
    assert!(
        metrics.contains("verge_queue_messages{queue=\"held\"} 3")
            && metrics.contains("verge_queue_backlog{queue=\"held\"} 3"),
        "{metrics}"
    );

    // A queue has one consumer: a second worker consuming it is refused, naming both.
    let upload = {
        use base64::Engine as _;
        let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        let config = "name = \"second\"\nmain = \"index.js\"\n\
                      [[queues.consumers]]\nqueue = \"flowing\"\n";
        let script = "export default { queue() {} };\n";
        serde_json::json!({
            "config_file": "wrangler.toml",
            "files": { "wrangler.toml": encode(config), "index.js": encode(script) },
        })
        .to_string()
    };
    let refused = support::send(
        &client(),
        http::Request::put(format!("{admin}/workers/second"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(upload.into_bytes())
            .unwrap(),
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("queue \\\"flowing\\\" has a consumer already, worker \\\"app\\\""),
        "{}",
        refused.body
    );

    let purged = queues(&[&["purge", "held"][..], &remote].concat());
    assert!(purged.contains("Purged 3 messages from held"), "{purged}");
    let listing = queues(&[&["list"][..], &local].concat());
    assert_eq!(row(&listing, "held"), ["0", "0"], "{listing}");
}

/// Service-worker syntax: a `queue` listener consumes.
#[test]
fn a_queue_listener_consumes_in_a_service_worker_script() {
    let dir = support::project(&[
        (
            "wrangler.toml",
            "name = \"sw\"\nmain = \"worker.js\"\nkv_namespaces = [{ binding = \"KV\" }]\n\
             [[queues.producers]]\nbinding = \"Q\"\nqueue = \"sw\"\n\
             [[queues.consumers]]\nqueue = \"sw\"\nmax_batch_timeout = 0\n",
        ),
        (
            "worker.js",
            "addEventListener('fetch', (event) => event.respondWith((async () => {\n\
               if (new URL(event.request.url).pathname === '/send') { await Q.send('hi'); return new Response('sent'); }\n\
               return new Response((await KV.get('got')) ?? 'none');\n\
             })()));\n\
             addEventListener('queue', (event) => {\n\
               event.waitUntil(KV.put('got', `${event.queue}: ${event.messages.map((m) => m.body).join()}`));\n\
             });\n",
        ),
    ]);
    let server = DevServer::start(dir.path(), &[]);
    assert_eq!(call(&server, "/send"), (200, "sent".into()));
    assert_eq!(
        wait_for(&server, "/", "sw: hi", Duration::from_secs(10)),
        "sw: hi"
    );
}
