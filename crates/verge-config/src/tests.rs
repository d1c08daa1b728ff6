//! Tests of config discovery, parsing and validation against real files in temporary projects.

use super::*;
use std::fs;

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    dir
}

#[test]
fn reads_toml_with_vars() {
    let dir = project(&[
        ("wrangler.toml", "name = \"shop\"\nmain = \"src/index.js\"\n[vars]\nGREETING = \"hi\"\nLIMITS = { max = 3 }\n"),
        ("src/index.js", ""),
    ]);
    let config = WorkerConfig::locate(dir.path()).unwrap();
    assert_eq!(config.name, "shop");
    assert_eq!(config.main.as_deref(), Some("src/index.js"));
    assert_eq!(config.vars["GREETING"], serde_json::json!("hi"));
    assert_eq!(config.vars["LIMITS"], serde_json::json!({ "max": 3 }));
}

#[test]
fn reads_jsonc_with_comments_and_trailing_commas() {
    let dir = project(&[
        (
            "wrangler.jsonc",
            "{\n  // the entry\n  \"main\": \"./index.js\",\n  \"vars\": { \"A\": \"1\", },\n}\n",
        ),
        ("index.js", ""),
    ]);
    let config = WorkerConfig::locate(dir.path()).unwrap();
    assert_eq!(config.main.as_deref(), Some("index.js"));
    assert_eq!(config.vars["A"], serde_json::json!("1"));
}

#[test]
fn json_takes_precedence_over_toml() {
    let dir = project(&[
        ("wrangler.toml", "main = \"a.js\""),
        ("wrangler.json", "{\"main\": \"b.js\"}"),
        ("a.js", ""),
        ("b.js", ""),
    ]);
    assert_eq!(
        WorkerConfig::locate(dir.path()).unwrap().main.as_deref(),
        Some("b.js")
    );
}

#[test]
fn a_script_file_is_its_own_project() {
    let dir = project(&[("hello.js", "")]);
    let config = WorkerConfig::locate(&dir.path().join("hello.js")).unwrap();
    assert_eq!(
        (
            config.name.as_str(),
            config.main.as_deref().unwrap_or_default()
        ),
        ("hello", "hello.js")
    );
    assert!(config.config_file.is_none());
}

#[test]
fn errors_name_what_was_looked_for() {
    let dir = project(&[("wrangler.toml", "name = \"x\"\n")]);
    let error = WorkerConfig::locate(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("wrangler.toml") && error.contains("main"),
        "{error}"
    );

    let dir = project(&[("wrangler.toml", "main = \"src/missing.js\"\n")]);
    let error = WorkerConfig::locate(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("src/missing.js") && error.contains("does not exist"),
        "{error}"
    );

    let dir = project(&[]);
    let error = WorkerConfig::locate(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("no wrangler.json, wrangler.jsonc or wrangler.toml"),
        "{error}"
    );

    let error = WorkerConfig::locate(&dir.path().join("nope"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("nope") && error.contains("does not exist"),
        "{error}"
    );
}

#[test]
fn parse_errors_carry_the_line() {
    let dir = project(&[("wrangler.toml", "main = \"a.js\"\nname = \n")]);
    let error = WorkerConfig::locate(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("wrangler.toml") && error.contains("line 2"),
        "{error}"
    );
}

#[test]
fn var_overrides_replace_and_add() {
    let dir = project(&[
        ("wrangler.toml", "main = \"a.js\"\n[vars]\nA = \"1\"\n"),
        ("a.js", ""),
    ]);
    let mut config = WorkerConfig::locate(dir.path()).unwrap();
    config.apply_var_overrides(&["A:2", "B:x:y"]).unwrap();
    assert_eq!(config.vars["A"], serde_json::json!("2"));
    assert_eq!(config.vars["B"], serde_json::json!("x:y"));
    assert!(config.apply_var_overrides(&["novalue"]).is_err());
}

#[test]
fn reads_limits_and_refuses_unknown_ones() {
    let dir = project(&[
        (
            "wrangler.toml",
            "main = \"a.js\"\n[limits]\ncpu_ms = 50\nsubrequests = 3\n",
        ),
        ("a.js", ""),
    ]);
    let limits = WorkerConfig::locate(dir.path()).unwrap().limits;
    assert_eq!((limits.cpu_ms, limits.subrequests), (Some(50), Some(3)));
    let dir = project(&[
        ("wrangler.toml", "main = \"a.js\"\n[limits]\ncpu = 50\n"),
        ("a.js", ""),
    ]);
    let error = WorkerConfig::locate(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("wrangler.toml") && error.contains("cpu"),
        "{error}"
    );
    let dir = project(&[
        (
            "wrangler.toml",
            "main = \"a.js\"\n[limits]\nsubrequests = -1\n",
        ),
        ("a.js", ""),
    ]);
    assert!(WorkerConfig::locate(dir.path()).is_err());
}

#[test]
fn reads_route_and_routes_in_every_form() {
    let dir = project(&[
        (
            "wrangler.toml",
            "main = \"a.js\"\nroute = \"example.com/api/*\"\nroutes = [\"*.example.net/*\", { pattern = \"shop.example.org\", custom_domain = true }]\n",
        ),
        ("a.js", ""),
    ]);
    let routes = WorkerConfig::locate(dir.path()).unwrap().routes;
    let patterns: Vec<_> = routes
        .iter()
        .map(|r| (r.pattern.as_str(), r.custom_domain))
        .collect();
    assert_eq!(
        patterns,
        [
            ("example.com/api/*", false),
            ("*.example.net/*", false),
            ("shop.example.org", true)
        ]
    );
}

#[test]
fn reads_verge_toml_and_names_the_line_of_a_bad_key() {
    let dir = project(&[
        ("a/wrangler.toml", "name = \"a\"\nmain = \"a.js\"\nroute = \"a.test/*\"\n"),
        ("a/a.js", ""),
        (
            "verge.toml",
            "[server]\nlisten = \"127.0.0.1:0\"\n\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"0123456789abcdef\"\n\n[[workers]]\npath = \"a\"\n\n[[zones]]\nname = \"a.test\"\norigin = \"http://127.0.0.1:9\"\n\n[limits]\ncpu_ms = 50\n\n[outbound]\nallow = [\"10.0.0.0/8\"]\n",
        ),
    ]);
    let config = ServerConfig::load(&dir.path().join("verge.toml")).unwrap();
    assert_eq!(config.workers[0].name, "a");
    assert_eq!(config.workers[0].engine, crate::Engine::QuickJs);
    assert_eq!(config.limits.cpu_ms, 50);
    assert_eq!(config.limits.memory_mib, 128);
    assert_eq!(config.admin.unwrap().token, "0123456789abcdef");
    assert_eq!(config.outbound_allow[0].to_string(), "10.0.0.0/8");

    std::fs::write(
        dir.path().join("verge.toml"),
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[limits]\ncpu = 5\n",
    )
    .unwrap();
    let error = ServerConfig::load(&dir.path().join("verge.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("verge.toml") && error.contains("line 5") && error.contains("cpu"),
        "{error}"
    );
    // A worker's engine: JavaScriptCore by name, anything else refused naming the choices.
    for (engine, expected) in [
        ("jsc", Ok(crate::Engine::Jsc)),
        ("v8", Err("unknown variant `v8`")),
    ] {
        std::fs::write(
            dir.path().join("verge.toml"),
            format!("[server]\nlisten = \"127.0.0.1:0\"\n[[workers]]\npath = \"a\"\nengine = \"{engine}\"\n"),
        )
        .unwrap();
        match (ServerConfig::load(&dir.path().join("verge.toml")), expected) {
            (Ok(config), Ok(expected)) => assert_eq!(config.workers[0].engine, expected),
            (Err(error), Err(expected)) => {
                let error = error.to_string();
                assert!(
                    error.contains(expected) && error.contains("line 5") && error.contains("jsc"),
                    "{error}"
                );
            }
            (outcome, _) => panic!(
                "engine = {engine:?}: {:?}",
                outcome.map(|c| c.workers[0].engine)
            ),
        }
    }
    std::fs::write(
        dir.path().join("verge.toml"),
        "[server]\nlisten = \"127.0.0.1:0\"\n[[workers]]\npath = \"missing\"\n",
    )
    .unwrap();
    let error = ServerConfig::load(&dir.path().join("verge.toml"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("missing"), "{error}");
}

#[test]
fn two_workers_of_one_name_are_refused_naming_both_directories() {
    let dir = project(&[
        ("a/wrangler.toml", "name = \"same\"\nmain = \"a.js\"\n"),
        ("a/a.js", ""),
        ("b/wrangler.toml", "name = \"other\"\nmain = \"b.js\"\n"),
        ("b/b.js", ""),
        ("c/wrangler.toml", "name = \"same\"\nmain = \"c.js\"\n"),
        ("c/c.js", ""),
        (
            "verge.toml",
            "[server]\nlisten = \"127.0.0.1:0\"\n[[workers]]\npath = \"a\"\n[[workers]]\npath = \"b\"\n[[workers]]\npath = \"c\"\n",
        ),
    ]);
    let error = ServerConfig::load(&dir.path().join("verge.toml"))
        .unwrap_err()
        .to_string();
    let named = |dir: &str| error.contains(&format!("{}{dir}", std::path::MAIN_SEPARATOR));
    assert!(
        error.contains("\"same\"") && named("a") && named("c") && !named("b"),
        "{error}"
    );
}

#[test]
fn objects_go_to_files_unless_verge_toml_names_an_s3_bucket() {
    let dir = project(&[("verge.toml", "[server]\nlisten = \"127.0.0.1:0\"\n")]);
    let load = || ServerConfig::load(&dir.path().join("verge.toml"));
    assert_eq!(load().unwrap().objects, crate::ObjectsConfig::Filesystem);
    std::fs::write(
        dir.path().join("verge.toml"),
        "[server]\nlisten = \"127.0.0.1:0\"\n[objects]\nbackend = \"s3\"\nbucket = \"b\"\nendpoint = \"http://127.0.0.1:9000\"\nallow_http = true\n",
    )
    .unwrap();
    assert_eq!(
        load().unwrap().objects,
        crate::ObjectsConfig::S3 {
            bucket: "b".into(),
            endpoint: Some("http://127.0.0.1:9000".into()),
            region: None,
            allow_http: true,
        }
    );
    std::fs::write(
        dir.path().join("verge.toml"),
        "[server]\nlisten = \"127.0.0.1:0\"\n[objects]\nbackend = \"gcs\"\n",
    )
    .unwrap();
    let error = load().unwrap_err().to_string();
    assert!(error.contains("gcs") && error.contains("line"), "{error}");
}

#[test]
fn reads_kv_namespaces_in_toml_and_jsonc() {
    let dir = project(&[
        (
            "wrangler.toml",
            "main = \"a.js\"\nkv_namespaces = [{ binding = \"CACHE\", id = \"0f2a\" }, { binding = \"LOCAL\" }]\nservices = [{ binding = \"AUTH\", service = \"auth-worker\" }]\n",
        ),
        ("a.js", ""),
    ]);
    let config = WorkerConfig::locate(dir.path()).unwrap();
    assert_eq!(
        config.services,
        [ServiceBinding {
            binding: "AUTH".into(),
            service: "auth-worker".into(),
            entrypoint: None,
        }]
    );
    let kv = config.kv_namespaces;
    let namespaces: Vec<(&str, &str)> = kv
        .iter()
        .map(|k| (k.binding.as_str(), k.namespace()))
        .collect();
    assert_eq!(namespaces, [("CACHE", "0f2a"), ("LOCAL", "LOCAL")]);

    let dir = project(&[
        (
            "wrangler.jsonc",
            "{ \"main\": \"a.js\", // KV\n \"kv_namespaces\": [{ \"binding\": \"K\", \"id\": \"abc\" },] }",
        ),
        ("a.js", ""),
    ]);
    let kv = WorkerConfig::locate(dir.path()).unwrap().kv_namespaces;
    assert_eq!(kv[0].namespace(), "abc");

    let dir = project(&[
        (
            "wrangler.toml",
            "main = \"a.js\"\nkv_namespaces = [{ id = \"x\" }]\n",
        ),
        ("a.js", ""),
    ]);
    let error = WorkerConfig::locate(dir.path()).unwrap_err().to_string();
    assert!(error.contains("binding"), "{error}");
}

#[test]
fn dev_vars_add_secrets_and_override_vars() {
    let dir = project(&[
        (
            "wrangler.toml",
            "main = \"a.js\"\n[vars]\nMODE = \"plain\"\n",
        ),
        ("a.js", ""),
        (
            ".dev.vars",
            "# secrets\nAPI_KEY=\"s3cr=t\"\nMODE = dev\nexport TOKEN='t'\n\n",
        ),
    ]);
    let mut config = WorkerConfig::locate(dir.path()).unwrap();
    config.apply_dev_vars().unwrap();
    assert_eq!(config.vars["API_KEY"], serde_json::json!("s3cr=t"));
    assert_eq!(config.vars["MODE"], serde_json::json!("dev"));
    assert_eq!(config.vars["TOKEN"], serde_json::json!("t"));

    fs::write(dir.path().join(".dev.vars"), "OK=1\nno equals sign\n").unwrap();
    let error = config.apply_dev_vars().unwrap_err().to_string();
    assert!(
        error.ends_with(".dev.vars:2: expected NAME=value"),
        "{error}"
    );
}

#[test]
fn run_worker_first_takes_patterns_and_exclusions() {
    let first = crate::RunWorkerFirst::Paths(vec!["/api/*".into(), "!/api/static/*".into()]);
    assert!(first.applies_to("/api/users"));
    assert!(first.applies_to("/api/"));
    assert!(!first.applies_to("/api/static/logo.png"));
    assert!(!first.applies_to("/index.html"));
    assert!(crate::RunWorkerFirst::All(true).applies_to("/anything"));
    assert!(!crate::RunWorkerFirst::default().applies_to("/api/users"));
}

#[test]
fn reads_assets_and_crons_and_refuses_a_missing_directory() {
    let dir = project(&[
        (
            "wrangler.toml",
            "main = \"a.js\"\n[assets]\ndirectory = \"public\"\nbinding = \"ASSETS\"\nnot_found_handling = \"single-page-application\"\nrun_worker_first = [\"/api/*\"]\n[triggers]\ncrons = [\"0 0 * * MON\", \"*/5 * * * *\"]\n",
        ),
        ("a.js", ""),
        ("public/index.html", ""),
    ]);
    let config = WorkerConfig::locate(dir.path()).unwrap();
    let assets = config.assets.unwrap();
    assert_eq!(assets.directory, dir.path().join("public"));
    assert_eq!(assets.binding.as_deref(), Some("ASSETS"));
    assert_eq!(
        assets.not_found_handling,
        crate::NotFoundHandling::SinglePageApplication
    );
    assert_eq!(config.crons, ["0 0 * * MON", "*/5 * * * *"]);
    std::fs::write(
        dir.path().join("wrangler.toml"),
        "main = \"a.js\"\n[assets]\ndirectory = \"missing\"\n",
    )
    .unwrap();
    let error = WorkerConfig::locate(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("missing") && error.contains("[assets]"),
        "{error}"
    );
}

#[test]
fn a_cluster_section_names_its_hub_and_pop_and_is_refused_when_inconsistent() {
    let dir = project(&[]);
    let path = dir.path().join("verge.toml");
    let load = |cluster: &str| {
        std::fs::write(
            &path,
            format!("[server]\nlisten = \"127.0.0.1:0\"\ncolo = \"lhr\"\n\n[cluster]\n{cluster}"),
        )
        .unwrap();
        ServerConfig::load(&path).map_err(|e| e.to_string())
    };
    let config =
        load("nats = [\"nats://127.0.0.1:4222\"]\npop = \"syd-2\"\ncredentials = \"hub.creds\"\n")
            .unwrap();
    let cluster = config.cluster.unwrap();
    assert_eq!(cluster.pop, "syd-2");
    // A PoP's name is its colo; the credentials file is found beside verge.toml.
    assert_eq!(config.colo, "syd-2");
    assert_eq!(cluster.credentials, Some(dir.path().join("hub.creds")));
    let refused = [
        ("nats = []\npop = \"syd\"\n", "name at least one hub URL"),
        ("nats = [\"nats://h:4222\"]\npop = \"Sydney!\"\n", "is not a PoP name"),
        ("nats = [\"nats://h:4222\"]\npop = \"syd\"\nuser = \"u\"\n", "go together"),
        (
            "nats = [\"nats://h:4222\"]\npop = \"syd\"\ncredentials = \"c\"\nuser = \"u\"\npassword = \"p\"\n",
            "not both",
        ),
        ("nats = [\"nats://h:4222\"]\npop = \"syd\"\nleaf = true\n", "leaf"),
    ];
    for (section, why) in refused {
        let error = load(section).unwrap_err();
        assert!(
            error.contains(why) && error.contains("verge.toml"),
            "{error}"
        );
    }
    // Without [cluster], one machine, named by [server] colo.
    std::fs::write(
        &path,
        "[server]\nlisten = \"127.0.0.1:0\"\ncolo = \"lhr\"\n",
    )
    .unwrap();
    let single = ServerConfig::load(&path).unwrap();
    assert_eq!((single.cluster, single.colo.as_str()), (None, "lhr"));
}

#[test]
fn distances_are_great_circles() {
    use crate::Location;
    let sydney = Location {
        lat: -33.87,
        lon: 151.21,
    };
    let frankfurt = Location {
        lat: 50.11,
        lon: 8.68,
    };
    let san_francisco = Location {
        lat: 37.77,
        lon: -122.42,
    };
    let km = |a: Location, b| a.distance_km(b).round();
    assert_eq!(km(sydney, sydney), 0.0);
    assert!((16_400.0..16_600.0).contains(&km(sydney, frankfurt)));
    assert!((11_900.0..12_000.0).contains(&km(sydney, san_francisco)));
    assert_eq!(km(sydney, frankfurt), km(frankfurt, sydney));
}

#[test]
fn a_kv_binding_cannot_reach_the_apis_own_lists() {
    let dir = project(&[
        (
            "wrangler.toml",
            "main = \"index.js\"\n[[kv_namespaces]]\nbinding = \"KV\"\nid = \"verge:kv-namespaces\"\n",
        ),
        ("index.js", ""),
    ]);
    let error = WorkerConfig::locate(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("\"verge:kv-namespaces\" is reserved"),
        "{error}"
    );
    // Nor by its binding's name, which names the namespace when there is no id.
    let dir = project(&[
        (
            "wrangler.toml",
            "main = \"index.js\"\n[[kv_namespaces]]\nbinding = \"verge:d1-databases\"\n",
        ),
        ("index.js", ""),
    ]);
    let error = WorkerConfig::locate(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("\"verge:d1-databases\" is reserved"),
        "{error}"
    );
}

#[test]
fn reads_queues_with_cloudflares_defaults_and_refuses_what_it_refuses() {
    let dir = project(&[
        (
            "wrangler.toml",
            "main = \"a.js\"\n\
             [[queues.producers]]\nbinding = \"JOBS\"\nqueue = \"jobs\"\n\
             [[queues.consumers]]\nqueue = \"jobs\"\nmax_batch_size = 25\ndead_letter_queue = \"jobs-dlq\"\n\
             [[queues.consumers]]\nqueue = \"only-consumed\"\n",
        ),
        ("a.js", ""),
    ]);
    let queues = WorkerConfig::locate(dir.path()).unwrap().queues;
    assert_eq!(
        queues.producers,
        [QueueProducer {
            binding: "JOBS".into(),
            queue: "jobs".into(),
            delivery_delay: 0,
        }]
    );
    let jobs = &queues.consumers[0];
    assert_eq!(
        (
            jobs.max_batch_size,
            jobs.max_batch_timeout,
            jobs.max_retries
        ),
        (25, 5.0, 3)
    );
    assert_eq!(jobs.dead_letter_queue.as_deref(), Some("jobs-dlq"));
    // A queue consumed and sent to by nobody here is fine.
    assert_eq!(queues.consumers[1].queue, "only-consumed");

    for (bad, named) in [
        ("[[queues.consumers]]\nqueue = \"q\"\nmax_batch_size = 101\n", "queues.consumers[0].max_batch_size"),
        ("[[queues.consumers]]\nqueue = \"q\"\nmax_batch_timeout = 61\n", "queues.consumers[0].max_batch_timeout"),
        ("[[queues.consumers]]\nqueue = \"q\"\ndead_letter_queue = \"q\"\n", "queues.consumers[0].dead_letter_queue"),
        ("[[queues.consumers]]\nqueue = \"q\"\n[[queues.consumers]]\nqueue = \"q\"\n", "queues.consumers[1].queue"),
        ("[[queues.producers]]\nbinding = \"Q\"\nqueue = \"no spaces\"\n", "queues.producers[0].queue"),
        ("[[queues.producers]]\nbinding = \"Q\"\nqueue = \"a\"\n[[queues.producers]]\nbinding = \"Q\"\nqueue = \"b\"\n", "queues.producers[1].binding"),
        ("[[queues.producers]]\nbinding = \"Q\"\nqueue = \"a\"\ndelivery_delay = 50000\n", "queues.producers[0].delivery_delay"),
    ] {
        let dir = project(&[("wrangler.toml", &format!("main = \"a.js\"\n{bad}")), ("a.js", "")]);
        let error = WorkerConfig::locate(dir.path()).unwrap_err().to_string();
        assert!(error.contains(named), "{bad}: {error}");
    }
}
