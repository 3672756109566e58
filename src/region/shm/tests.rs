//! Unit tests of the shared-memory region: names, the object format, stale
//! objects, read-only views and hostile headers.

use super::header::*;
use super::os::*;
use super::*;

fn config() -> ShmConfig {
    ShmConfig {
        region_id: 77,
        ..ShmConfig::new(8, 1024, 1024)
    }
}

#[test]
fn magic_spells_the_format_name() {
    assert_eq!(L3L2Q_SHM_MAGIC.to_le_bytes(), *b"L3L2QSHM");
}

#[test]
fn names_are_checked() {
    for bad in ["", "/", "noslash", "/a/b", "/.", "/..", "/nul\0x"] {
        assert!(
            matches!(c_name(bad), Err(ShmError::InvalidName { .. })),
            "{bad:?}"
        );
    }
    assert!(c_name(&format!("/{}", "x".repeat(L3L2Q_SHM_NAME_MAX))).is_err());
    assert!(c_name("/l3l2q-ok").is_ok());
    assert!(c_name(&unique_name("a b/c")).is_ok());
}

#[test]
fn creator_and_opener_see_the_same_bytes_at_different_addresses() {
    let name = unique_name("unit-pair");
    let created = ShmRegion::create(&name, &config()).unwrap();
    let opened = ShmRegion::open(&name).unwrap();
    assert_eq!(created.role(), ShmRole::Creator);
    assert_eq!(opened.role(), ShmRole::Opener);
    let (c, o) = (created.descriptor(), opened.descriptor());
    assert_ne!(
        c.payload_base, o.payload_base,
        "two mappings, two addresses"
    );
    assert_eq!(
        (c.region_id, c.payload_bytes, c.counter_bytes),
        (o.region_id, o.payload_bytes, o.counter_bytes)
    );
    assert_eq!(
        c.payload_base - c.counter_base,
        4096,
        "payload follows the padded counter page"
    );
    assert_eq!(created.queue_args(), opened.queue_args());
    assert_eq!(opened.header().creator_pid, u64::from(std::process::id()));

    created.write_payload(100, b"hello").unwrap();
    created
        .store_counter(L3L2Q_L2_ABORT_FLAG_OFFSET, 9)
        .unwrap();
    let mut buf = [0u8; 5];
    opened.read_payload(100, &mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    assert_eq!(opened.load_counter(L3L2Q_L2_ABORT_FLAG_OFFSET), Ok(9));

    let view = ShmReadOnly::open(&name).unwrap();
    assert_eq!(view.load_counter(L3L2Q_L2_ABORT_FLAG_OFFSET), Some(9));
    assert_eq!(view.load_counter(2), None);
    assert_eq!(view.load_counter(384), None);
    assert!(view.read_payload(100, &mut buf) && &buf == b"hello");
    assert!(!view.read_payload(view.header().payload_bytes - 2, &mut buf));
    assert_eq!(view.creator_alive(), Some(true));

    // Scalars from the creator become the opener's: fields 2 and 4 replaced, nothing else.
    let rebased = opened.rebase_task_scalars(&created.task_scalars()).unwrap();
    assert_eq!(rebased, opened.task_scalars());
    let mut foreign = created.task_scalars();
    foreign.scalars[7] = 16;
    assert_eq!(
        opened.rebase_task_scalars(&foreign),
        Err(ShmError::ScalarsMismatch { index: 7 })
    );

    drop(opened);
    drop(view);
    drop(created);
    assert!(
        matches!(ShmRegion::open(&name), Err(ShmError::NotFound { .. })),
        "creator unlinks on drop"
    );
}

#[test]
fn exclusive_create_refuses_a_live_name_and_reclaim_refuses_a_live_creator() {
    let name = unique_name("unit-excl");
    let first = ShmRegion::create(&name, &config()).unwrap();
    let err = ShmRegion::create(&name, &config()).unwrap_err();
    let pid = std::process::id();
    assert_eq!(
        err,
        ShmError::AlreadyExists {
            name: name.clone(),
            creator_pid: Some(pid),
            creator_alive: Some(true)
        }
    );
    assert!(err.to_string().contains(&name));
    let reclaim = ShmConfig {
        mode: CreateMode::ReclaimStale,
        ..config()
    };
    assert!(matches!(
        ShmRegion::create(&name, &reclaim),
        Err(ShmError::AlreadyExists { .. })
    ));
    assert_eq!(err.status(), Status::Exists);

    // Force-unlink and recreate: the first creator's drop must leave the new object alone.
    ShmRegion::unlink(&name).unwrap();
    let second = ShmRegion::create(&name, &config()).unwrap();
    drop(first);
    assert!(
        ShmRegion::open(&name).is_ok(),
        "old creator removed the new object"
    );
    drop(second);
    assert!(matches!(
        ShmRegion::unlink(&name),
        Err(ShmError::NotFound { .. })
    ));
}

#[test]
fn bad_config_creates_nothing() {
    let name = unique_name("unit-cfg");
    let err = ShmRegion::create(&name, &ShmConfig::new(3, 64, 64)).unwrap_err();
    assert_eq!(err, ShmError::Config(Violation::Depth));
    assert!(matches!(
        ShmRegion::open(&name),
        Err(ShmError::NotFound { .. })
    ));
}

/// Creates a raw object with `bytes` at offset 0 and the given size.
fn raw_object(name: &str, size: u64, words: &[(usize, u64)]) {
    let c = c_name(name).unwrap();
    let fd = shm_open(name, &c, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL).unwrap();
    // SAFETY: our own fresh descriptor.
    assert_eq!(unsafe { libc::ftruncate(fd.0, size as libc::off_t) }, 0);
    if size >= 4096 {
        let map = Mapping::new(&fd, size as usize, false, name).unwrap();
        for &(i, v) in words {
            // SAFETY: i < 512 keeps the word inside the first page of the writable mapping.
            unsafe { map.base.as_ptr().add(i * 8).cast::<u64>().write(v.to_le()) };
        }
    }
}

#[test]
fn garbage_objects_are_rejected_cleanly() {
    let empty = unique_name("unit-empty");
    raw_object(&empty, 0, &[]);
    assert!(matches!(
        ShmRegion::open(&empty),
        Err(ShmError::NotReady { .. })
    ));
    ShmRegion::unlink(&empty).unwrap();

    let unpublished = unique_name("unit-unpub");
    raw_object(&unpublished, 8192, &[(WORD_CREATOR_PID, 1)]);
    assert!(matches!(
        ShmReadOnly::open(&unpublished),
        Err(ShmError::NotReady { .. })
    ));
    ShmRegion::unlink(&unpublished).unwrap();

    // A valid header from a real object, then one field broken at a time.
    let name = unique_name("unit-src");
    let good = ShmRegion::create(&name, &config()).unwrap();
    let words: Vec<(usize, u64)> = (0..HEADER_WORDS).map(|i| (i, good.map.word(i))).collect();
    let total = good.header().total_bytes;
    drop(good);
    for (index, value) in [
        (WORD_MAGIC, 0x1234),
        (WORD_VERSION, 2),
        (WORD_HEADER_BYTES, 64),
        (WORD_TOTAL_BYTES, total + 4096),
        (WORD_COUNTER_OFFSET, 4100),
        (WORD_COUNTER_OFFSET, u64::MAX - 8),
        (WORD_PAYLOAD_OFFSET, 4096),
        (WORD_PAYLOAD_OFFSET, u64::MAX),
        (WORD_PAYLOAD_BYTES, 64),
        (WORD_REGION_ID, 0),
        (WORD_ARGS, 0),
        (WORD_ARGS + 1, 3),
        (WORD_ARGS + 2, 1 << 62),
        (WORD_ARGS + 5, 388),
    ] {
        let broken = unique_name("unit-bad");
        let mut w = words.clone();
        w[index].1 = value;
        raw_object(&broken, total, &w);
        let r = ShmRegion::open(&broken);
        assert!(
            matches!(r, Err(ShmError::BadHeader { .. })),
            "word {index} = {value:#x}: {r:?}"
        );
        assert!(matches!(
            ShmReadOnly::open(&broken),
            Err(ShmError::BadHeader { .. })
        ));
        ShmRegion::unlink(&broken).unwrap();
    }
}
