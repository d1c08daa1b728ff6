//! The object store against real files and a real SQLite index.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use bytes::Bytes;

fn body(bytes: &[u8]) -> ByteStream {
    // Two chunks, as a stream would bring them.
    let (a, b) = bytes.split_at(bytes.len() / 2);
    let chunks = vec![Ok(Bytes::copy_from_slice(a)), Ok(Bytes::copy_from_slice(b))];
    Box::pin(futures_util::stream::iter(chunks))
}

async fn read(outcome: GetOutcome) -> (ObjectInfo, (u64, u64), Vec<u8>) {
    let GetOutcome::Found { info, span, body } = outcome else {
        panic!("expected the object");
    };
    let chunks: Vec<Bytes> = body.map(Result::unwrap).collect().await;
    (info, span, chunks.concat())
}

async fn put(store: &ObjectBuckets, key: &str, bytes: &[u8]) -> ObjectInfo {
    store
        .put(
            "b",
            key,
            body(bytes),
            NewObject::default(),
            Conditions::default(),
        )
        .await
        .unwrap()
        .unwrap()
}

fn files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("blobs")).unwrap().count()
}

#[tokio::test]
async fn objects_are_replaced_whole_and_read_by_range() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectBuckets::open(dir.path()).unwrap();
    let first = put(&store, "a", b"hello world").await;
    // The MD5 of "hello world".
    assert_eq!(first.etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");
    put(&store, "a/b", b"nested").await;
    let second = put(&store, "a", b"HELLO WORLD").await;
    assert_ne!(first.version, second.version);
    assert_eq!(files(dir.path()), 2, "the replaced file is removed");

    let whole = store
        .get("b", "a", None, Conditions::default())
        .await
        .unwrap();
    assert_eq!(read(whole).await.2, b"HELLO WORLD");
    let range = Some(ObjectRange::From {
        offset: 6,
        length: Some(3),
    });
    let part = store
        .get("b", "a", range, Conditions::default())
        .await
        .unwrap();
    let (_, span, bytes) = read(part).await;
    assert_eq!((span, bytes.as_slice()), ((6, 3), &b"WOR"[..]));
    let suffix = store
        .get(
            "b",
            "a",
            Some(ObjectRange::Suffix(2)),
            Conditions::default(),
        )
        .await
        .unwrap();
    assert_eq!(read(suffix).await.2, b"LD");

    let stale = Conditions {
        etag_matches: Some(vec![first.etag.clone()]),
        ..Conditions::default()
    };
    let unmet = store.get("b", "a", None, stale.clone()).await.unwrap();
    assert!(matches!(unmet, GetOutcome::Unmet(info) if info.etag == second.etag));
    let refused = store
        .put("b", "a", body(b"x"), NewObject::default(), stale)
        .await
        .unwrap();
    assert!(refused.is_none());
    assert_eq!(files(dir.path()), 2, "a refused write leaves no file");

    let wrong_sum = NewObject {
        expected: vec![("sha256".into(), "00".repeat(32))],
        ..NewObject::default()
    };
    let error = store
        .put("b", "c", body(b"x"), wrong_sum, Conditions::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("sha256 checksum"), "{error}");
    assert!(store.head("b", "c").await.unwrap().is_none());

    store
        .delete("b", vec!["a".into(), "nothing".into()])
        .await
        .unwrap();
    assert!(store.head("b", "a").await.unwrap().is_none());
    assert!(store.head("b", "a/b").await.unwrap().is_some());
    assert!(store.head("other", "a/b").await.unwrap().is_none());
}

#[tokio::test]
async fn listings_roll_up_prefixes_and_page() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectBuckets::open(dir.path()).unwrap();
    for key in ["p/a", "p/d/1", "p/d/2", "p/e/1", "p/z", "q"] {
        put(&store, key, b"x").await;
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let options = ListOptions {
            prefix: "p/".into(),
            delimiter: Some("/".into()),
            cursor: cursor.clone(),
            limit: 2,
            ..ListOptions::default()
        };
        let page = store.list("b", options).await.unwrap();
        let mut names: Vec<String> = page.objects.iter().map(|o| o.key.clone()).collect();
        names.extend(page.delimited_prefixes.iter().map(|p| format!("{p}*")));
        seen.push(names);
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    // Objects first, then prefixes, per page; the last page is the one with no cursor.
    assert_eq!(seen, [["p/a", "p/d/*"], ["p/z", "p/e/*"]]);
    let after = ListOptions {
        start_after: Some("p/d/1".into()),
        limit: 10,
        ..ListOptions::default()
    };
    let page = store.list("b", after).await.unwrap();
    let keys: Vec<&str> = page.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["p/d/2", "p/e/1", "p/z", "q"]);
    assert!(store
        .list(
            "b",
            ListOptions {
                cursor: Some("!".into()),
                limit: 1,
                ..ListOptions::default()
            }
        )
        .await
        .is_err());
}

#[tokio::test]
async fn multipart_uploads_join_their_parts() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectBuckets::open(dir.path()).unwrap();
    let upload = store
        .create_multipart("b", "big", NewObject::default())
        .await
        .unwrap();
    let first = vec![1u8; r2_limits::MIN_PART_BYTES as usize];
    let one = store
        .upload_part("b", "big", &upload, 1, body(&first))
        .await
        .unwrap();
    let two = store
        .upload_part("b", "big", &upload, 2, body(b"tail"))
        .await
        .unwrap();
    let parts = |list: &[(u32, &str)]| {
        list.iter()
            .map(|(part_number, etag)| UploadedPart {
                part_number: *part_number,
                etag: (*etag).into(),
            })
            .collect::<Vec<_>>()
    };
    let unordered = store
        .complete_multipart("b", "big", &upload, parts(&[(2, &two), (1, &one)]))
        .await;
    assert!(unordered.unwrap_err().to_string().contains("ascending"));
    let small = store
        .upload_part("b", "small", &upload, 1, body(b"x"))
        .await
        .unwrap_err();
    assert!(small.to_string().contains("does not exist"), "{small}");
    let info = store
        .complete_multipart("b", "big", &upload, parts(&[(1, &one), (2, &two)]))
        .await
        .unwrap();
    assert_eq!(info.size, first.len() as u64 + 4);
    assert!(info.etag.ends_with("-2"), "{}", info.etag);
    let tail = store
        .get(
            "b",
            "big",
            Some(ObjectRange::Suffix(5)),
            Conditions::default(),
        )
        .await
        .unwrap();
    assert_eq!(read(tail).await.2, b"\x01tail");
    assert_eq!(files(dir.path()), 1, "the parts' files are removed");
    let again = store
        .complete_multipart("b", "big", &upload, parts(&[(1, &one)]))
        .await;
    assert!(again.is_err());
}
