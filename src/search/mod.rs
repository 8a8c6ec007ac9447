//! Asymptotic neural architecture search (ANAS, the "searched" half of MsNet-ANAS; architecture
//! brief §1.1): a DARTS-style supernet of mixed operations whose candidate sets shrink stage by
//! stage (P-DARTS' search-space approximation), and the genotype derived from it.
//!
//! [`space`] holds the search space, the pruning between stages and the derivation of a
//! genotype; [`mixed`] the mixed operation and the supernet cell; [`network`] the supernet
//! under the MFMA decoder with its architecture weights; [`run`] the staged bilevel search
//! behind `rtseg search`; [`plots`] its α charts and cell pictures.

pub mod mixed;
pub mod network;
pub mod plots;
pub mod run;
pub mod space;
