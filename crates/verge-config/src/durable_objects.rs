//! wrangler's `[[durable_objects.bindings]]` and `[[migrations]]`: which Durable Object classes
//! a worker reaches (its own, or another worker's by `script_name`) and the history of the
//! classes it defines. [`check`] refuses a config whose bindings and migrations disagree, naming
//! the class and the key; nothing here touches storage (the server applies renames and
//! deletions that [`replay`] reports).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// `[durable_objects]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct DurableObjects {
    #[serde(default)]
    pub bindings: Vec<DurableObjectBinding>,
}

/// One of `[[durable_objects.bindings]]`: a namespace of class `class_name` on `env`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurableObjectBinding {
    /// The name on `env`.
    pub name: String,
    /// The exported class whose instances the namespace holds.
    pub class_name: String,
    /// The worker that exports the class; `None`: this one.
    pub script_name: Option<String>,
    /// Accepted for compatibility; Verge has one environment per worker.
    pub environment: Option<String>,
}

/// One of `[[migrations]]`, applied in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Migration {
    pub tag: String,
    #[serde(default)]
    pub new_classes: Vec<String>,
    #[serde(default)]
    pub new_sqlite_classes: Vec<String>,
    #[serde(default)]
    pub renamed_classes: Vec<RenamedClass>,
    #[serde(default)]
    pub deleted_classes: Vec<String>,
    /// Accepted for compatibility: Verge does not move objects between workers.
    #[serde(default)]
    pub transferred_classes: Vec<serde_json::Value>,
}

/// `renamed_classes = [{ from, to }]`: the objects of `from` become `to`'s, storage and all.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RenamedClass {
    pub from: String,
    pub to: String,
}

/// The classes that `migrations`, applied in order, leave defined, and the renames they made
/// (in order); or the first inconsistency, as a message naming the class and the migration.
pub fn replay(migrations: &[Migration]) -> Result<(BTreeSet<String>, Vec<RenamedClass>), String> {
    let mut classes = BTreeSet::new();
    let mut renames = Vec::new();
    let mut tags = BTreeSet::new();
    for migration in migrations {
        let tag = &migration.tag;
        if !tags.insert(tag.as_str()) {
            return Err(format!("migrations: tag \"{tag}\" is used twice"));
        }
        for class in migration
            .new_classes
            .iter()
            .chain(&migration.new_sqlite_classes)
        {
            if !classes.insert(class.clone()) {
                return Err(format!(
                    "migrations: \"{tag}\" creates class {class}, which already exists"
                ));
            }
        }
        for RenamedClass { from, to } in &migration.renamed_classes {
            if !classes.remove(from) {
                return Err(format!(
                    "migrations: \"{tag}\" renames class {from}, which does not exist"
                ));
            }
            if !classes.insert(to.clone()) {
                return Err(format!(
                    "migrations: \"{tag}\" renames {from} to {to}, which already exists"
                ));
            }
            renames.push(RenamedClass {
                from: from.clone(),
                to: to.clone(),
            });
        }
        for class in &migration.deleted_classes {
            if !classes.remove(class) {
                return Err(format!(
                    "migrations: \"{tag}\" deletes class {class}, which does not exist"
                ));
            }
        }
    }
    Ok((classes, renames))
}

/// Checks that every binding to a class of this worker names one its migrations define (when
/// it has migrations at all: `wrangler dev` runs a project without them), and that binding
/// names are unique.
pub fn check(bindings: &[DurableObjectBinding], migrations: &[Migration]) -> Result<(), String> {
    let (classes, _) = replay(migrations)?;
    let mut names = BTreeSet::new();
    for binding in bindings {
        let name = &binding.name;
        if !names.insert(name.as_str()) {
            return Err(format!(
                "durable_objects.bindings: \"{name}\" is bound twice"
            ));
        }
        if binding.class_name.is_empty() {
            return Err(format!(
                "durable_objects.bindings: \"{name}\" has an empty class_name"
            ));
        }
        let own = binding.script_name.is_none();
        if own && !migrations.is_empty() && !classes.contains(&binding.class_name) {
            return Err(format!(
                "durable_objects.bindings: \"{name}\" binds class {}, which no [[migrations]] \
                 entry creates (add it to new_sqlite_classes)",
                binding.class_name
            ));
        }
    }
    Ok(())
}

/// A Durable Object class's identity: the name it was created with, which renames keep,
/// followed by `@TAG` (its creating migration's tag) when that name had been created before —
/// a class renamed away or deleted, then created again — so that no two classes ever share
/// one. A class's ids, its objects' storage and, in a cluster, their leases and logs belong to
/// its identity, not to the name it has now. A class no migration creates is its own identity.
pub fn class_identity(migrations: &[Migration], class: &str) -> String {
    replay_identities(migrations)
        .live
        .remove(class)
        .unwrap_or_else(|| class.to_owned())
}

/// The class, once `migrations` are applied, whose identity is `identity` (or a class of that
/// name, when none is).
pub fn class_with_identity(migrations: &[Migration], identity: &str) -> String {
    replay_identities(migrations)
        .live
        .into_iter()
        .find(|(_, live)| live == identity)
        .map_or_else(|| identity.to_owned(), |(class, _)| class)
}

/// How `migrations` treat identities.
pub struct Identities {
    /// Each class defined at the end, with its identity.
    live: std::collections::HashMap<String, String>,
    /// Per migration, its tag and the identities of the classes it deletes (after its own
    /// creations and renames).
    pub deleted: Vec<(String, Vec<String>)>,
    /// Each rename, as the name a class took and its identity.
    pub renamed: Vec<(String, String)>,
}

/// How `migrations` treat identities: what each deletes, and what each rename named.
pub fn migration_identities(migrations: &[Migration]) -> Identities {
    replay_identities(migrations)
}

fn replay_identities(migrations: &[Migration]) -> Identities {
    let mut created = std::collections::HashSet::new();
    let mut replayed = Identities {
        live: std::collections::HashMap::new(),
        deleted: Vec::new(),
        renamed: Vec::new(),
    };
    for migration in migrations {
        for class in migration
            .new_classes
            .iter()
            .chain(&migration.new_sqlite_classes)
        {
            let identity = if created.insert(class.clone()) {
                class.clone()
            } else {
                format!("{class}@{}", migration.tag)
            };
            replayed.live.insert(class.clone(), identity);
        }
        for RenamedClass { from, to } in &migration.renamed_classes {
            if let Some(identity) = replayed.live.remove(from) {
                replayed.renamed.push((to.clone(), identity.clone()));
                replayed.live.insert(to.clone(), identity);
            }
        }
        let deleted = migration
            .deleted_classes
            .iter()
            .filter_map(|class| replayed.live.remove(class))
            .collect();
        replayed.deleted.push((migration.tag.clone(), deleted));
    }
    replayed
}

/// Cloudflare's `locationHint`s for Durable Objects, each with a place in its region, which
/// the PoP nearest to holds a new object given it.
pub const LOCATION_HINTS: &[(&str, crate::Location)] = &[
    (
        "wnam",
        crate::Location {
            lat: 37.77,
            lon: -122.42,
        },
    ),
    (
        "enam",
        crate::Location {
            lat: 40.71,
            lon: -74.01,
        },
    ),
    (
        "sam",
        crate::Location {
            lat: -23.55,
            lon: -46.63,
        },
    ),
    (
        "weur",
        crate::Location {
            lat: 48.86,
            lon: 2.35,
        },
    ),
    (
        "eeur",
        crate::Location {
            lat: 52.23,
            lon: 21.01,
        },
    ),
    (
        "apac",
        crate::Location {
            lat: 1.35,
            lon: 103.82,
        },
    ),
    (
        "oc",
        crate::Location {
            lat: -33.87,
            lon: 151.21,
        },
    ),
    (
        "afr",
        crate::Location {
            lat: -26.2,
            lon: 28.05,
        },
    ),
    (
        "me",
        crate::Location {
            lat: 25.2,
            lon: 55.27,
        },
    ),
];

/// Where `locationHint` `hint` points, if it is one of [`LOCATION_HINTS`].
pub fn location_hint(hint: &str) -> Option<crate::Location> {
    LOCATION_HINTS
        .iter()
        .find(|(name, _)| *name == hint)
        .map(|(_, place)| *place)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn binding(name: &str, class: &str) -> DurableObjectBinding {
        DurableObjectBinding {
            name: name.into(),
            class_name: class.into(),
            script_name: None,
            environment: None,
        }
    }

    fn migration(tag: &str) -> Migration {
        Migration {
            tag: tag.into(),
            ..Migration::default()
        }
    }

    #[test]
    fn migrations_replay_in_order() {
        let first = Migration {
            new_sqlite_classes: vec!["Counter".into(), "Room".into()],
            ..migration("v1")
        };
        let second = Migration {
            renamed_classes: vec![RenamedClass {
                from: "Counter".into(),
                to: "Tally".into(),
            }],
            deleted_classes: vec!["Room".into()],
            ..migration("v2")
        };
        let (classes, renames) = replay(&[first.clone(), second.clone()]).unwrap_or_default();
        assert_eq!(classes.into_iter().collect::<Vec<_>>(), ["Tally"]);
        assert_eq!(renames.len(), 1);
        assert_eq!(
            check(&[binding("T", "Tally")], &[first.clone(), second.clone()]),
            Ok(())
        );
        let stale = check(&[binding("C", "Counter")], &[first.clone(), second]).unwrap_err();
        assert!(
            stale.contains("class Counter, which no [[migrations]]"),
            "{stale}"
        );
        assert_eq!(check(&[binding("C", "Anything")], &[]), Ok(()));
        let twice = check(&[binding("C", "Counter"), binding("C", "Room")], &[first]);
        assert!(twice.unwrap_err().contains("\"C\" is bound twice"));
    }

    #[test]
    fn inconsistent_migrations_name_the_class() {
        let cases = [
            (
                vec![Migration {
                    deleted_classes: vec!["Ghost".into()],
                    ..migration("v1")
                }],
                "deletes class Ghost, which does not exist",
            ),
            (
                vec![
                    Migration {
                        new_classes: vec!["A".into()],
                        ..migration("v1")
                    },
                    Migration {
                        new_sqlite_classes: vec!["A".into()],
                        ..migration("v2")
                    },
                ],
                "\"v2\" creates class A, which already exists",
            ),
            (
                vec![migration("v1"), migration("v1")],
                "tag \"v1\" is used twice",
            ),
            (
                vec![Migration {
                    renamed_classes: vec![RenamedClass {
                        from: "X".into(),
                        to: "Y".into(),
                    }],
                    ..migration("v1")
                }],
                "renames class X, which does not exist",
            ),
        ];
        for (migrations, expected) in cases {
            let refused = replay(&migrations).map(|_| ()).unwrap_err();
            assert!(refused.contains(expected), "{refused}");
        }
    }

    #[test]
    fn identities_survive_renames_and_never_repeat() {
        let migration =
            |tag: &str, new: &[&str], renamed: &[(&str, &str)], deleted: &[&str]| Migration {
                tag: tag.into(),
                new_sqlite_classes: new.iter().map(|c| c.to_string()).collect(),
                renamed_classes: renamed
                    .iter()
                    .map(|(from, to)| RenamedClass {
                        from: from.to_string(),
                        to: to.to_string(),
                    })
                    .collect(),
                deleted_classes: deleted.iter().map(|c| c.to_string()).collect(),
                ..Default::default()
            };
        let history = [
            migration("v1", &["A", "Gone"], &[], &[]),
            migration("v2", &[], &[("A", "B")], &[]),
            migration("v3", &["A"], &[("Gone", "Went")], &["Went"]),
            migration("v4", &["Gone"], &[], &[]),
        ];
        assert_eq!(super::class_identity(&history, "B"), "A");
        assert_eq!(super::class_identity(&history, "A"), "A@v3");
        assert_eq!(super::class_identity(&history, "Gone"), "Gone@v4");
        assert_eq!(super::class_identity(&history, "Unmigrated"), "Unmigrated");
        assert_eq!(super::class_with_identity(&history, "A"), "B");
        assert_eq!(super::class_with_identity(&history, "A@v3"), "A");
        let identities = super::migration_identities(&history);
        assert_eq!(
            identities.deleted[2],
            ("v3".to_string(), vec!["Gone".to_string()])
        );
        assert_eq!(
            identities.renamed,
            [("B".into(), "A".into()), ("Went".into(), "Gone".into())]
        );
    }
}
