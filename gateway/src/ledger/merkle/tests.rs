//! RFC 6962 test vectors (the Certificate Transparency corpus), a reference written
//! straight from the RFC's recursive definitions, and property tests of the proofs.

use proptest::prelude::*;

use super::*;

fn hx(s: &str) -> Hash {
    hex::decode(s).expect("hex").try_into().expect("32 bytes")
}

const CT_LEAVES: [&str; 8] =
    ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];

const CT_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn ct_tree() -> MemoryTree {
    let mut t = MemoryTree::default();
    for l in CT_LEAVES {
        t.push(leaf_hash(&hex::decode(l).expect("hex")));
    }
    t
}

#[test]
fn empty_root_is_sha256_of_nothing() {
    assert_eq!(empty_root(), hx("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    assert_eq!(MemoryTree::default().root(), empty_root());
}

#[test]
fn ct_roots_for_every_size() {
    let tree = ct_tree();
    let mut growing = MemoryTree::default();
    for (i, want) in CT_ROOTS.iter().enumerate() {
        let size = i as u64 + 1;
        assert_eq!(root(&tree, size).expect("root"), hx(want), "size {size}");
        growing.push(leaf_hash(&hex::decode(CT_LEAVES[i]).expect("hex")));
        assert_eq!(growing.root(), hx(want), "frontier at size {size}");
    }
}

#[test]
fn ct_inclusion_proofs() {
    let tree = ct_tree();
    let cases: [(u64, u64, &[&str]); 4] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (index, size, want) in cases {
        let want: Vec<Hash> = want.iter().map(|s| hx(s)).collect();
        let got = inclusion_proof(&tree, index, size).expect("source").expect("in range");
        assert_eq!(got, want, "leaf {index} of {size}");
        let leaf = leaf_hash(&hex::decode(CT_LEAVES[index as usize]).expect("hex"));
        let r = hx(CT_ROOTS[size as usize - 1]);
        assert!(verify_inclusion(index, size, &leaf, &got, &r));
    }
}

#[test]
fn ct_consistency_proofs() {
    let tree = ct_tree();
    let cases: [(u64, u64, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (from, to, want) in cases {
        let want: Vec<Hash> = want.iter().map(|s| hx(s)).collect();
        let got = consistency_proof(&tree, from, to).expect("source").expect("in range");
        assert_eq!(got, want, "{from} -> {to}");
        let (a, b) = (hx(CT_ROOTS[from as usize - 1]), hx(CT_ROOTS[to as usize - 1]));
        assert!(verify_consistency(from, to, &a, &b, &got), "{from} -> {to}");
    }
}

#[test]
fn out_of_range_proofs_are_refused() {
    let tree = ct_tree();
    assert_eq!(
        inclusion_proof(&tree, 8, 8).expect("source"),
        Err(ProofRangeError::Inclusion { index: 8, size: 8 })
    );
    assert_eq!(
        consistency_proof(&tree, 0, 8).expect("source"),
        Err(ProofRangeError::Consistency { from: 0, to: 8 })
    );
    assert_eq!(
        consistency_proof(&tree, 5, 4).expect("source"),
        Err(ProofRangeError::Consistency { from: 5, to: 4 })
    );
}

// The RFC's definitions, literally, over a slice of leaf hashes.
fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => empty_root(),
        1 => d[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn ref_path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n == 1 {
        return vec![];
    }
    let k = split(n as u64) as usize;
    if m < k {
        let mut p = ref_path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = ref_path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

fn ref_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = split(n as u64) as usize;
    if m <= k {
        let mut p = ref_subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = ref_subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn leaves(n: usize) -> (Vec<Hash>, MemoryTree) {
    let hashes: Vec<Hash> = (0..n as u64).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut tree = MemoryTree::default();
    for h in &hashes {
        tree.push(*h);
    }
    (hashes, tree)
}

proptest! {
    #[test]
    fn roots_and_proofs_match_the_rfc_definitions(n in 1usize..300, a in any::<u64>(), b in any::<u64>()) {
        let (d, tree) = leaves(n);
        let size = 1 + (a % n as u64) as usize;
        let m = (b % size as u64) as usize;
        let r = mth(&d[..size]);
        prop_assert_eq!(root(&tree, size as u64).expect("root"), r);
        prop_assert_eq!(Frontier::load(&tree, size as u64).expect("load").root(), r);
        let proof = inclusion_proof(&tree, m as u64, size as u64).expect("source").expect("range");
        prop_assert_eq!(&proof, &ref_path(m, &d[..size]));
        prop_assert!(verify_inclusion(m as u64, size as u64, &d[m], &proof, &r));
        let from = m + 1;
        let cproof = consistency_proof(&tree, from as u64, size as u64).expect("source").expect("range");
        prop_assert_eq!(&cproof, &ref_subproof(from, &d[..size], true));
        prop_assert!(verify_consistency(from as u64, size as u64, &mth(&d[..from]), &r, &cproof));
    }

    #[test]
    fn a_changed_proof_does_not_verify(n in 2usize..200, a in any::<u64>(), b in any::<u64>(), bit in 0usize..256) {
        let (d, tree) = leaves(n);
        let size = 2 + (a % (n as u64 - 1)) as usize;
        let m = (b % size as u64) as usize;
        let r = mth(&d[..size]);
        let mut proof = inclusion_proof(&tree, m as u64, size as u64).expect("source").expect("range");
        let which = bit % proof.len();
        proof[which][bit / 8 % 32] ^= 1 << (bit % 8);
        prop_assert!(!verify_inclusion(m as u64, size as u64, &d[m], &proof, &r));
        // The right proof for another leaf, or against another size, fails too.
        let good = inclusion_proof(&tree, m as u64, size as u64).expect("source").expect("range");
        prop_assert!(!verify_inclusion(((m + 1) % size) as u64, size as u64, &d[m], &good, &r));
        let from = 1 + m.min(size - 2);
        let mut cproof = consistency_proof(&tree, from as u64, size as u64).expect("source").expect("range");
        if !cproof.is_empty() {
            let which = bit % cproof.len();
            cproof[which][bit / 8 % 32] ^= 1 << (bit % 8);
            prop_assert!(!verify_consistency(from as u64, size as u64, &mth(&d[..from]), &r, &cproof));
        }
        prop_assert!(!verify_consistency(from as u64, size as u64, &mth(&d[..from]), &d[0], &consistency_proof(&tree, from as u64, size as u64).expect("s").expect("r")));
    }
}

/// Cross-check against an independent RFC 6962 implementation (the `ct-merkle` crate,
/// a dev-dependency only): roots at every size, and every inclusion and consistency
/// proof of ours verified by it (and its proofs byte-identical to ours).
#[test]
fn agrees_with_the_ct_merkle_crate() {
    use ct_merkle::mem_backed_tree::MemoryBackedTree;
    use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
    use sha2::Sha256;

    let mut theirs = MemoryBackedTree::<Sha256, Vec<u8>>::new();
    let mut ours = MemoryTree::default();
    let mut roots = Vec::new();
    for i in 0u64..70 {
        let data = format!("record {i}").into_bytes();
        theirs.push(data.clone());
        ours.push(leaf_hash(&data));
        let size = i + 1;
        let their_root = theirs.root();
        assert_eq!(their_root.as_bytes().as_slice(), root(&ours, size).expect("root"), "root at size {size}");
        roots.push(their_root.clone());
        for index in 0..size {
            let proof = inclusion_proof(&ours, index, size).expect("source").expect("range");
            let theirs_proof = theirs.prove_inclusion(index as usize);
            let flat: Vec<u8> = proof.iter().flatten().copied().collect();
            assert_eq!(theirs_proof.as_bytes(), flat.as_slice(), "inclusion {index} in {size}");
            let item = format!("record {index}").into_bytes();
            their_root
                .verify_inclusion(&item, index, &InclusionProof::<Sha256>::from_bytes(flat))
                .expect("ct-merkle accepts our inclusion proof");
        }
        for from in 1..size {
            let proof = consistency_proof(&ours, from, size).expect("source").expect("range");
            let flat: Vec<u8> = proof.iter().flatten().copied().collect();
            assert_eq!(
                theirs.prove_consistency((size - from) as usize).as_bytes(),
                flat.as_slice(),
                "consistency {from} -> {size}"
            );
            let old: &RootHash<Sha256> = &roots[from as usize - 1];
            their_root
                .verify_consistency(old, &ConsistencyProof::<Sha256>::try_from_bytes(flat).expect("hashes"))
                .expect("ct-merkle accepts our consistency proof");
        }
    }
}
