//! Arena placement of SPEC section 6, as pure cursor arithmetic.
//!
//! Cursors are monotonic byte counts; a position in the arena is
//! `cursor % arena`. Live payload bytes occupy `[head, tail)`. Padding
//! skipped by a wrap has no descriptor and counts as used until the message
//! after it is released.

/// Where a payload of `n` bytes sits: its arena-relative offset, the cursor
/// at which it starts (the tail, or the next cycle start after a wrap) and
/// the cursor after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Offset inside the arena.
    pub offset: u64,
    /// Cursor of the first payload byte.
    pub start: u64,
    /// Cursor after the payload.
    pub end: u64,
}

impl Span {
    /// A zero-byte message: offset 0 and no cursor movement.
    pub const fn empty(cursor: u64) -> Span {
        Span {
            offset: 0,
            start: cursor,
            end: cursor,
        }
    }

    /// Whether placing this span skipped padding to the next cycle.
    pub fn wrapped(&self, tail: u64) -> bool {
        self.start != tail
    }

    /// The placement of a reservation made at cursor `tail` (arena
    /// position `pos == tail % arena`) once it holds only `n` bytes. A
    /// wrapped span whose `n` bytes fit before the arena end at `pos` moves
    /// back to `pos`, dropping the padding (SPEC section 7): a strict
    /// consumer expects a payload there and accepts the arena start only
    /// when it cannot fit. The caller moves the bytes when the offset
    /// changes. Zero bytes roll everything back to `tail`.
    pub fn shrink(&self, tail: u64, pos: u64, arena: u64, n: u64) -> Span {
        debug_assert_eq!(pos, tail % arena);
        if n == 0 {
            Span::empty(tail)
        } else if self.wrapped(tail) && n <= arena - pos {
            // No live byte is in the way: either none is live, or the wrapped span had to end before the oldest
            // one (start - pos + capacity - head <= arena with start = tail - pos + arena), so tail + n - head <= pos.
            Span {
                offset: pos,
                start: tail,
                end: tail + n,
            }
        } else {
            Span {
                end: self.start + n,
                ..*self
            }
        }
    }

    /// The arena position (`end % arena`) after this span, given the
    /// position `before` of the cursor it was placed at. Lets callers keep
    /// positions incrementally instead of dividing on every message.
    #[inline]
    pub fn end_position(&self, before: u64, arena: u64) -> u64 {
        if self.end == self.start {
            return before;
        }
        // start % arena == offset, so end % arena == offset + len unless that is exactly the arena end.
        let end = self.offset + (self.end - self.start);
        if end == arena { 0 } else { end }
    }
}

/// Start cursor of the arena cycle after the one `cursor` is in, given
/// `pos == cursor % arena`.
#[inline]
fn next_cycle(cursor: u64, pos: u64, arena: u64) -> Option<u64> {
    (cursor - pos).checked_add(arena)
}

/// Whether `[head, end)` fits in the arena, or nothing is live at all.
fn fits(head: u64, tail: u64, end: u64, arena: u64) -> bool {
    head == tail || end - head <= arena
}

/// Producer placement: where `n` bytes go given the live range
/// `[head, tail)`, or `None` when there is no room now. Pure: a failed try
/// commits nothing, padding included. The reference form of [`place_at`].
#[cfg(test)]
pub fn place(head: u64, tail: u64, arena: u64, n: u64) -> Option<Span> {
    place_at(head, tail, tail % arena, arena, n)
}

/// `place` with the tail's arena position `pos == tail % arena` given
/// (kept incrementally by the caller; no division on the hot path).
#[inline(always)]
pub fn place_at(head: u64, tail: u64, pos: u64, arena: u64, n: u64) -> Option<Span> {
    debug_assert_eq!(pos, tail % arena);
    if n == 0 {
        return Some(Span::empty(tail));
    }
    if n > arena {
        return None;
    }
    let span = if n <= arena - pos {
        Span {
            offset: pos,
            start: tail,
            end: tail.checked_add(n)?,
        }
    } else {
        let start = next_cycle(tail, pos, arena)?;
        Span {
            offset: 0,
            start,
            end: start.checked_add(n)?,
        }
    };
    // Without a wrap the live range must fit; with a wrap it also may
    // when nothing is live, so a drained arena always takes n <= arena.
    let ok = if span.wrapped(tail) {
        fits(head, tail, span.end, arena)
    } else {
        span.end - head <= arena
    };
    ok.then_some(span)
}

/// Consumer (and replaying producer) acceptance: the payload seen at
/// arena offset `offset` must be at the expected position `tail % arena`,
/// or at the arena start as a wrap; and it must not overlap live bytes in
/// `[head, tail)`. `None` is a bad arena position: poison. The reference
/// form of [`follow_at`].
#[cfg(test)]
pub fn follow(head: u64, tail: u64, arena: u64, n: u64, offset: u64) -> Option<Span> {
    follow_at(head, tail, tail % arena, arena, n, offset)
}

/// The common case of [`follow_at`], in a few comparisons: `n > 0` bytes at
/// exactly the expected position `pos` of cursor `tail` (no wrap), with
/// `room` bytes known to be free there. `None` says only "not the common
/// case": the caller then applies [`follow_at`], which accepts whatever this
/// accepts, with the same span, when `room` is at most the free space.
/// `offset` may have wrapped below zero; it then matches no position.
#[inline(always)]
pub fn follow_expected(
    tail: u64,
    pos: u64,
    arena: u64,
    room: u64,
    n: u64,
    offset: u64,
) -> Option<Span> {
    if n == 0 || offset != pos || n > arena - pos || n > room {
        return None;
    }
    Some(Span {
        offset: pos,
        start: tail,
        end: tail.checked_add(n)?,
    })
}

/// `follow` with the tail's arena position `pos == tail % arena` given.
#[inline]
pub fn follow_at(head: u64, tail: u64, pos: u64, arena: u64, n: u64, offset: u64) -> Option<Span> {
    debug_assert_eq!(pos, tail % arena);
    if n == 0 {
        return (offset == 0).then_some(Span::empty(tail));
    }
    if n > arena {
        return None;
    }
    let span = if offset == pos && n <= arena - pos {
        Span {
            offset,
            start: tail,
            end: tail.checked_add(n)?,
        }
    } else if offset == 0 && pos != 0 {
        let start = next_cycle(tail, pos, arena)?;
        Span {
            offset: 0,
            start,
            end: start.checked_add(n)?,
        }
    } else {
        return None;
    };
    fits(head, tail, span.end, arena).then_some(span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_in_order_without_wrap() {
        assert_eq!(
            place(0, 0, 1024, 300),
            Some(Span {
                offset: 0,
                start: 0,
                end: 300
            })
        );
        assert_eq!(
            place(0, 300, 1024, 724),
            Some(Span {
                offset: 300,
                start: 300,
                end: 1024
            })
        );
        assert_eq!(
            place(0, 300, 1024, 725),
            None,
            "needs a wrap and 300 bytes are live"
        );
    }

    #[test]
    fn wrap_after_full_drain_always_fits() {
        // 300 B then 800 B in a 1024 B arena: once the 300 are released the
        // 800 must wrap to the cycle start, not wait forever.
        assert_eq!(place(0, 300, 1024, 800), None);
        assert_eq!(
            place(300, 300, 1024, 800),
            Some(Span {
                offset: 0,
                start: 1024,
                end: 1824
            })
        );
        assert_eq!(
            place(300, 300, 1024, 1024),
            Some(Span {
                offset: 0,
                start: 1024,
                end: 2048
            })
        );
        assert_eq!(place(300, 300, 1024, 1025), None);
    }

    #[test]
    fn wrap_with_live_bytes_needs_room_before_head() {
        // live [900, 1000): a wrap to 1024 with 100 bytes ends at 1124 <= 900 + 1024.
        assert_eq!(
            place(900, 1000, 1024, 100),
            Some(Span {
                offset: 0,
                start: 1024,
                end: 1124
            })
        );
        assert_eq!(
            place(900, 1000, 1024, 900),
            Some(Span {
                offset: 0,
                start: 1024,
                end: 1924
            })
        );
        assert_eq!(place(900, 1000, 1024, 901), None);
    }

    #[test]
    fn follow_accepts_expected_and_wrap_and_rejects_others() {
        assert_eq!(
            follow(0, 300, 1024, 100, 300),
            Some(Span {
                offset: 300,
                start: 300,
                end: 400
            })
        );
        assert_eq!(
            follow(300, 300, 1024, 100, 0),
            Some(Span {
                offset: 0,
                start: 1024,
                end: 1124
            })
        );
        assert_eq!(follow(300, 300, 1024, 100, 64), None);
        assert_eq!(
            follow(0, 0, 1024, 100, 0),
            Some(Span {
                offset: 0,
                start: 0,
                end: 100
            })
        );
        assert_eq!(
            follow(0, 1000, 1024, 100, 1000),
            None,
            "runs past the arena end"
        );
        assert_eq!(follow(0, 0, 1024, 0, 0), Some(Span::empty(0)));
        assert_eq!(
            follow(0, 0, 1024, 0, 64),
            None,
            "zero-byte message must have offset 0"
        );
        assert_eq!(follow(0, 0, 1024, 2048, 0), None);
    }

    #[test]
    fn follow_rejects_overlap_with_held_bytes() {
        // 800 bytes held at [0, 800); a wrap of 300 to cycle start would overwrite them.
        assert_eq!(follow(0, 800, 1024, 300, 0), None);
        assert_eq!(
            follow(0, 800, 1024, 224, 800),
            Some(Span {
                offset: 800,
                start: 800,
                end: 1024
            })
        );
    }

    #[test]
    fn shrink_moves_a_wrapped_span_back_when_it_fits_before_the_end() {
        // 300 B drained, 800 B wrapped to the arena start.
        let span = place(300, 300, 1024, 800).unwrap();
        assert_eq!(span.offset, 0);
        assert_eq!(
            span.shrink(300, 300, 1024, 100),
            Span {
                offset: 300,
                start: 300,
                end: 400
            },
            "fits at 300: the padding is dropped"
        );
        assert_eq!(
            span.shrink(300, 300, 1024, 724),
            Span {
                offset: 300,
                start: 300,
                end: 1024
            },
            "exactly up to the arena end"
        );
        assert_eq!(
            span.shrink(300, 300, 1024, 725),
            Span {
                offset: 0,
                start: 1024,
                end: 1749
            },
            "does not fit before the end: stays a wrap"
        );
        assert_eq!(span.shrink(300, 300, 1024, 0), Span::empty(300));
        // What a strict consumer accepts: the expected position.
        assert_eq!(
            follow(300, 300, 1024, 100, 300),
            Some(span.shrink(300, 300, 1024, 100))
        );
        // Live bytes [900, 1000): a 100 B wrap shrunk to 24 fits at 1000 and overlaps nothing live.
        let live = place(900, 1000, 1024, 100).unwrap();
        let moved = live.shrink(1000, 1000, 1024, 24);
        assert_eq!((moved.offset, moved.start, moved.end), (1000, 1000, 1024));
        assert!(moved.end - 900 <= 1024);
        assert_eq!(live.shrink(1000, 1000, 1024, 25).offset, 0);
        // A span that did not wrap only shortens.
        let plain = place(0, 300, 1024, 500).unwrap();
        assert_eq!(
            plain.shrink(300, 300, 1024, 10),
            Span {
                offset: 300,
                start: 300,
                end: 310
            }
        );
    }

    #[test]
    fn end_position_tracks_the_cursor_modulo_the_arena() {
        let arena = 1000;
        let (mut head, mut tail, mut pos) = (0u64, 0u64, 0u64);
        for (i, n) in [0u64, 300, 700, 1, 999, 0, 500, 500, 1000, 37, 963, 250]
            .into_iter()
            .cycle()
            .take(500)
            .enumerate()
        {
            let span = place_at(head, tail, pos, arena, n).expect("fits after a drain");
            assert_eq!(span, place(head, tail, arena, n).unwrap());
            pos = span.end_position(pos, arena);
            tail = span.end;
            assert_eq!(pos, tail % arena, "step {i}");
            head = tail; // drained
        }
        let wrapped = place(300, 300, 1024, 800).unwrap();
        assert_eq!(
            wrapped.shrink(300, 300, 1024, 800).end_position(300, 1024),
            800
        );
        assert_eq!(
            wrapped.shrink(300, 300, 1024, 10).end_position(300, 1024),
            310
        );
        assert_eq!(
            wrapped.shrink(300, 300, 1024, 0).end_position(300, 1024),
            300
        );
    }

    #[test]
    fn the_expected_position_shortcut_agrees_with_follow() {
        let arena = 1024;
        for (head, tail, n, offset) in [
            (0, 0, 100, 0),
            (0, 300, 100, 300),
            (900, 1000, 24, 1000),
            (300, 300, 100, 0),
            (0, 1000, 100, 1000),
            (0, 300, 0, 0),
            (0, 300, 724, 300),
            (0, 300, 725, 300),
        ] {
            let (pos, room) = (tail % arena, arena - (tail - head));
            if let Some(span) = follow_expected(tail, pos, arena, room, n, offset) {
                assert_eq!(
                    Some(span),
                    follow(head, tail, arena, n, offset),
                    "{head} {tail} {n} {offset}"
                );
            }
        }
        assert_eq!(
            follow_expected(300, 300, 1024, 724, 100, 300),
            Some(Span {
                offset: 300,
                start: 300,
                end: 400
            })
        );
        assert_eq!(
            follow_expected(300, 300, 1024, 50, 100, 300),
            None,
            "no room"
        );
        assert_eq!(
            follow_expected(300, 300, 1024, 724, 0, 0),
            None,
            "empty messages take the full rule"
        );
        assert_eq!(
            follow_expected(300, 300, 1024, 724, 100, 0),
            None,
            "a wrap takes the full rule"
        );
        assert_eq!(
            follow_expected(1000, 1000, 1024, 1024, 100, 1000),
            None,
            "would run past the arena end"
        );
        assert_eq!(
            follow_expected(u64::MAX - 10, 1013, 1024, 1024, 20, 1013),
            None,
            "cursor overflow fails closed"
        );
    }

    #[test]
    fn cursor_overflow_fails_closed() {
        assert_eq!(place(u64::MAX - 10, u64::MAX - 10, 64, 20), None);
        assert_eq!(follow(u64::MAX - 10, u64::MAX - 10, 64, 20, 0), None);
    }
}
