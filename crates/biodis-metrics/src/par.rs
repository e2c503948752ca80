//! Order-preserving parallel map over the available cores (std threads, no pool).
//!
//! The metrics whose work splits into independent pieces (DCI's one classifier per factor,
//! InfoM's one sort per latent) run them with [`map_ordered`]: every piece is computed exactly
//! as it would be serially and the results come back in input order, so a score never depends
//! on the thread count.

/// `items.iter().map(f).collect()`, with the items split into contiguous chunks over at most
/// `available_parallelism()` threads.
pub fn map_ordered<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map(|t| t.get())
        .unwrap_or(1)
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|chunk| s.spawn(move || chunk.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_the_input_order() {
        let v: Vec<usize> = (0..101).collect();
        assert_eq!(
            super::map_ordered(&v, |x| x * 2),
            v.iter().map(|x| x * 2).collect::<Vec<_>>()
        );
        assert!(super::map_ordered(&[] as &[u8], |x| *x).is_empty());
    }
}
