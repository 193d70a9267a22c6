//! A checked, safe front to the `gemm` crate's f32 matrix product on strided
//! views, for the fused kernels that multiply sub-matrices in place (one
//! attention head's columns of a `[t, 3c]` buffer, a transposed weight)
//! instead of copying them out first as candle's `matmul` would.

use candle_core::Result;

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
}
