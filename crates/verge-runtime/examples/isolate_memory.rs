//! Where an isolate's memory goes. First the engine alone: a QuickJS runtime and context made
//! with a counting allocator, so that what QuickJS holds from the allocator can be set beside
//! what its own accounting adds up to; the difference is, mostly, the unused part of its
//! small-block arenas (a 4 KiB arena per size class in use, per runtime). Then a worker at each
//! step of a cold start, as the growth of this process's RSS per isolate over many of them; and
//! then workers that instantiate a small WebAssembly module (one 64 KiB page of memory) as they
//! load, for what Wasm adds to a worker that uses it (one that does not pays nothing: the
//! namespace is a lazy API).
//!
//! `cargo run --release -p verge-runtime --example isolate_memory [-- ISOLATES]` (default 500).

#![allow(unsafe_code)] // The allocator hook QuickJS is given is an unsafe trait.

use std::cell::Cell;
use std::error::Error;
use std::rc::Rc;
use verge_config::WorkerConfig;
use verge_js::rquickjs::allocator::{Allocator, RustAllocator};
use verge_js::rquickjs::{Context, Runtime};
use verge_js::{Isolate, IsolateLimits};
use verge_runtime::{
    BlankIsolate, Capabilities, Grants, HttpClient, Outcome, Request, Stores, Worker,
};

/// The bench's worker (bench/tenants.py): it parses the URL and sets a header.
const WORKER: &str = "export default {\n  fetch(request) {\n    const url = new URL(request.url);\n    return new Response(`worker: ${url.pathname}`, { headers: { 'x-worker': '1' } });\n  },\n};\n";

/// A worker that instantiates [`SMALL_MODULE`] as it loads and calls it on each request.
const WASM_WORKER: &str = "import module from './small.wasm';\nconst { add } = new WebAssembly.Instance(module, {}).exports;\nexport default {\n  fetch(request) {\n    return new Response(`worker: ${add(1, new URL(request.url).pathname.length)}`);\n  },\n};\n";

/// A small module: one function, one page of memory.
const SMALL_MODULE: &str = "(module (memory (export \"memory\") 1) (func (export \"add\") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))";

fn main() -> Result<(), Box<dyn Error>> {
    let isolates: usize = match std::env::args().nth(1) {
        Some(count) => count.parse()?,
        None => 500,
    };
    engine_alone()?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(tokio::task::LocalSet::new().run_until(cold_start_steps(isolates)))
}

/// Rust's allocator, counting the bytes QuickJS holds from it.
struct Counting {
    inner: RustAllocator,
    held: Rc<Cell<usize>>,
}

// SAFETY: every call goes to `RustAllocator` unchanged; only the count is added.
unsafe impl Allocator for Counting {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        let block = self.inner.alloc(size);
        self.count_in(block);
        block
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        let block = self.inner.calloc(count, size);
        self.count_in(block);
        block
    }

    unsafe fn dealloc(&mut self, block: *mut u8) {
        self.count_out(block);
        self.inner.dealloc(block);
    }

    unsafe fn realloc(&mut self, block: *mut u8, new_size: usize) -> *mut u8 {
        self.count_out(block);
        let moved = self.inner.realloc(block, new_size);
        self.count_in(moved);
        moved
    }

    unsafe fn usable_size(block: *mut u8) -> usize {
        RustAllocator::usable_size(block)
    }
}

impl Counting {
    fn count_in(&self, block: *mut u8) {
        if !block.is_null() {
            // SAFETY: `block` was just returned by `RustAllocator`.
            self.held
                .set(self.held.get() + unsafe { RustAllocator::usable_size(block) });
        }
    }

    fn count_out(&self, block: *mut u8) {
        if !block.is_null() {
            // SAFETY: QuickJS frees only what this allocator gave it.
            self.held
                .set(self.held.get() - unsafe { RustAllocator::usable_size(block) });
        }
    }
}

fn engine_alone() -> Result<(), Box<dyn Error>> {
    let held = Rc::new(Cell::new(0));
    let runtime = Runtime::new_with_alloc(Counting {
        inner: RustAllocator,
        held: held.clone(),
    })?;
    let _context = Context::full(&runtime)?;
    let own = runtime.memory_usage().malloc_size;
    let held = held.get() as f64 / 1024.0;
    let own = own as f64 / 1024.0;
    println!("QuickJS runtime and context, alone:");
    println!("  held from the allocator  {held:6.1} KiB");
    println!("  QuickJS's own count      {own:6.1} KiB (its blocks in use)");
    println!(
        "  the difference           {:6.1} KiB (arena space not in use)",
        held - own
    );
    Ok(())
}

async fn cold_start_steps(isolates: usize) -> Result<(), Box<dyn Error>> {
    let small_module = wat::parse_str(SMALL_MODULE)?;
    let projects = (0..isolates)
        .map(|index| {
            let project = tempfile::tempdir()?;
            let config = format!("name = \"w{index}\"\nmain = \"index.js\"\n");
            std::fs::write(project.path().join("wrangler.toml"), config)?;
            std::fs::write(project.path().join("index.js"), WORKER)?;
            std::fs::write(project.path().join("wasm.js"), WASM_WORKER)?;
            std::fs::write(project.path().join("small.wasm"), &small_module)?;
            Ok(project)
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let configs = projects
        .iter()
        .map(|project| WorkerConfig::locate(project.path()))
        .collect::<Result<Vec<_>, _>>()?;
    let grants = || Grants {
        console: Rc::new(|_, _| {}),
        outbound: Rc::new(HttpClient::new()),
        bindings: Capabilities {
            stores: Stores::default(),
            services: Rc::new(|_| Rc::new(verge_runtime::Refused("no services"))),
            assets: None,
            objects: None,
        },
    };
    // One worker first, so that what a process sets up once is not counted per isolate.
    drop(
        Worker::load(
            &configs[0],
            Default::default(),
            grants(),
            None,
            BlankIsolate::new()?,
        )
        .await?,
    );

    println!("\nper isolate, RSS growth over {isolates}:");
    let step = |name: &str, since: usize| {
        let rss = rss_bytes().saturating_sub(since) as f64 / isolates as f64 / 1024.0;
        println!("  {name:34} {rss:6.1} KiB");
    };
    let since = rss_bytes();
    let blank = (0..isolates)
        .map(|_| BlankIsolate::new())
        .collect::<Result<Vec<_>, _>>()?;
    step("Web APIs installed (blank isolate)", since);
    let mut workers = Vec::with_capacity(isolates);
    for (config, isolate) in configs.iter().zip(blank) {
        workers.push(Worker::load(config, Default::default(), grants(), None, isolate).await?);
    }
    step("worker loaded", since);
    for worker in &workers {
        let mut request = Request::new("GET", "http://w.example/path");
        request.headers.push("host", "w.example");
        request.cf = Some("{}".into());
        match worker.fetch(request).await {
            Outcome::Response(_) => {}
            _ => return Err(format!("{} did not answer", worker.name()).into()),
        }
    }
    step("one request served", since);

    // The same projects again, their entry the Wasm worker.
    for project in &projects {
        let config = "name = \"wasm\"\nmain = \"wasm.js\"\n";
        std::fs::write(project.path().join("wrangler.toml"), config)?;
    }
    let wasm_configs = projects
        .iter()
        .map(|project| WorkerConfig::locate(project.path()))
        .collect::<Result<Vec<_>, _>>()?;
    let since = rss_bytes();
    let mut wasm_workers = Vec::with_capacity(isolates);
    for config in &wasm_configs {
        let isolate = BlankIsolate::new()?;
        let worker = Worker::load(config, Default::default(), grants(), None, isolate).await?;
        let request = Request::new("GET", "http://w.example/path");
        match worker.fetch(request).await {
            Outcome::Response(_) => {}
            _ => return Err(format!("{} did not answer", worker.name()).into()),
        }
        wasm_workers.push(worker);
    }
    step("Wasm worker, one request served", since);
    drop(wasm_workers);
    // Last, so that no step above reuses memory this one freed.
    let since = rss_bytes();
    let bare = (0..isolates)
        .map(|_| Isolate::new(IsolateLimits::default()))
        .collect::<Result<Vec<_>, _>>()?;
    step("ECMAScript only, no Web APIs", since);
    drop(bare);
    Ok(())
}

/// This process's resident memory, from `/proc/self/statm` (0 where there is none).
fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|pages| pages.parse().ok())
        .unwrap_or(0);
    pages * 4096
}
