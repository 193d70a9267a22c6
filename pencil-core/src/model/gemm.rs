//! A checked, safe front to the `gemm` crate's f32 matrix product on strided
//! views, for the fused kernels that multiply sub-matrices in place (one
//! attention head's columns of a `[t, 3c]` buffer, a transposed weight)
//! instead of copying them out first as candle's `matmul` would.

use candle_core::Result;
use rayon::prelude::*;

/// A read-only strided matrix: element `(i, j)` is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    /// The elements the view may reach.
    pub data: &'a [f32],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Distance between consecutive rows.
    pub rs: usize,
    /// Distance between consecutive columns.
    pub cs: usize,
}

impl<'a> View<'a> {
    /// `rows x cols` row-major with row stride `rs`, starting at `data[0]`.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize, rs: usize) -> Self {
        View { data, rows, cols, rs, cs: 1 }
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        View { rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs, ..self }
    }

    /// Whether every element lies inside `data`.
    fn fits(&self) -> bool {
        self.rows == 0 || self.cols == 0 || (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < self.data.len()
    }
}

/// How the product lands in the destination.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    /// `dst = a * b`.
    Set,
    /// `dst += a * b`.
    Add,
}

/// `dst (rows a.rows, cols b.cols, row stride dst_rs) (=|+=) a * b` with
/// `threads` threads of the current rayon pool (1: on the calling thread).
pub(crate) fn matmul(dst: &mut [f32], dst_rs: usize, a: View<'_>, b: View<'_>, write: Write, threads: usize) -> Result<()> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k {
        candle_core::bail!("gemm: {m}x{k} times {}x{n}", b.rows);
    }
    let dst_fits = m == 0 || n == 0 || (m - 1) * dst_rs + n <= dst.len();
    if !a.fits() || !b.fits() || !dst_fits || (m > 1 && dst_rs < n) {
        candle_core::bail!("gemm: a view reaches past its buffer ({m}x{k} times {k}x{n})");
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if write == Write::Set {
            for i in 0..m {
                dst[i * dst_rs..i * dst_rs + n].fill(0.0);
            }
        }
        return Ok(());
    }
    let parallelism = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: every element the three views address lies inside its slice
    // (checked above, strides non-negative), the destination rows do not
    // overlap (dst_rs >= n), and `dst` is borrowed mutably, so it aliases
    // neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            write == Write::Add,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
    Ok(())
}

/// Threads for a product: candle's setting, bounded by the current rayon
/// pool (adaptation runs inside a one-thread pool).
pub(crate) fn pool_threads() -> usize {
    candle_core::utils::get_num_threads().min(rayon::current_num_threads())
}

/// The element-wise sum of equal-length partial results, added in the order
/// given: a product split among threads then depends on the thread count, not
/// on timing. Empty when there are none.
pub(crate) fn add_in_order(parts: impl IntoIterator<Item = Vec<f32>>) -> Vec<f32> {
    let mut parts = parts.into_iter();
    let mut sum = parts.next().unwrap_or_default();
    for part in parts {
        for (s, p) in sum.iter_mut().zip(part) {
            *s += p;
        }
    }
    sum
}

/// Rows per block below which [`matmul_split_rows`] leaves the splitting to `gemm`.
const MIN_SPLIT_ROWS: usize = 256;

/// As [`matmul`] with `threads` threads, the rows of `a` (and of `dst`)
/// split into `threads` contiguous blocks, each one single-threaded product
/// on rayon's pool. `gemm`'s own threading meets at a barrier after every
/// depth block (static shares, so a thread that the shared machine slows
/// holds the others); independent blocks never wait for each other. Every
/// element is still summed by one thread in the same order, so results do
/// not depend on the split.
pub(crate) fn matmul_split_rows(dst: &mut [f32], dst_rs: usize, a: View<'_>, b: View<'_>, write: Write, threads: usize) -> Result<()> {
    let m = a.rows;
    if threads <= 1 || m < 2 * MIN_SPLIT_ROWS || dst_rs < b.cols {
        return matmul(dst, dst_rs, a, b, write, threads);
    }
    let per = m.div_ceil(threads.min(m / MIN_SPLIT_ROWS));
    dst.par_chunks_mut(per * dst_rs).enumerate().try_for_each(|(i, dst)| {
        let r0 = i * per;
        if r0 >= m {
            return Ok(());
        }
        let rows = per.min(m - r0);
        let Some(data) = a.data.get(r0 * a.rs..) else { candle_core::bail!("gemm: row block {r0} past its buffer") };
        matmul(dst, dst_rs, View { data, rows, ..a }, b, write, 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_products_match_the_definition() {
        // a: 2x3 read as columns 1..4 of a 2x5 buffer; b: 3x2 read transposed from a 2x3 one.
        let abuf: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let bbuf: Vec<f32> = (0..6).map(|i| (i as f32) * 0.5 - 1.0).collect();
        let a = View { data: &abuf[1..], rows: 2, cols: 3, rs: 5, cs: 1 };
        let b = View::rows(&bbuf, 2, 3, 3).t();
        let mut dst = vec![1.0f32; 2 * 4];
        matmul(&mut dst, 4, a, b, Write::Add, 1).expect("gemm");
        for i in 0..2 {
            for j in 0..2 {
                let want: f32 = (0..3).map(|k| abuf[1 + i * 5 + k] * bbuf[j * 3 + k]).sum::<f32>() + 1.0;
                assert!((dst[i * 4 + j] - want).abs() < 1e-5, "({i},{j}): {} vs {want}", dst[i * 4 + j]);
            }
            assert_eq!(&dst[i * 4 + 2..i * 4 + 4], &[1.0, 1.0], "columns past n are left alone");
        }
        let short = View::rows(&abuf[..9], 2, 5, 5);
        assert!(matmul(&mut dst, 4, short, View::rows(&bbuf, 5, 1, 1), Write::Set, 1).is_err());
    }

    #[test]
    fn split_rows_give_the_single_products_bits() {
        // a read transposed (row stride 1), a partial last block, added onto a start value.
        let (m, k, n) = (3 * MIN_SPLIT_ROWS + 5, 37, 19);
        let abuf: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 1013) as f32 / 500.0 - 1.0).collect();
        let bbuf: Vec<f32> = (0..k * n).map(|i| ((i * 104_729) % 997) as f32 / 400.0 - 1.2).collect();
        let a = View::rows(&abuf, k, m, m).t();
        let b = View::rows(&bbuf, k, n, n);
        let start: Vec<f32> = (0..m * n).map(|i| (i % 11) as f32).collect();
        let (mut one, mut split) = (start.clone(), start);
        matmul(&mut one, n, a, b, Write::Add, 1).expect("gemm");
        rayon::ThreadPoolBuilder::new().num_threads(3).build().expect("pool").install(|| matmul_split_rows(&mut split, n, a, b, Write::Add, 3)).expect("split");
        assert_eq!(one, split);
    }
}
