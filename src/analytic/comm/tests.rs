//! Placement and the shared-link model by hand.
use super::*;

#[test]
fn shared_link_by_hand() {
    // EP all-to-all 2 ms and DP reduction 3 ms on one NIC: both at half rate until
    // the all-to-all ends at 4 ms (2 ms of its bytes at half rate), then DP alone
    // for its last 1 ms: 5 ms, the sum.
    let [ep, dp] = shared_link_s([2e-3, 3e-3]);
    assert!((ep - 4e-3).abs() < 1e-15 && (dp - 5e-3).abs() < 1e-15);
    // Three flows 1, 2, 4: 3 x 1 = 3; then 2 more flows for 1 each: 5; then 2: 7.
    assert_eq!(shared_link_s([4.0, 1.0, 2.0]), [7.0, 3.0, 5.0]);
    // One flow alone is unchanged; an empty flow finishes at once.
    assert_eq!(shared_link_s([0.0, 3.0]), [0.0, 3.0]);
}

#[test]
fn placement_follows_stride_and_domain() {
    // tp 8 on 8-GPU nodes: one domain.
    assert_eq!(
        place(Group { size: 8, stride: 1 }, 8),
        Placement {
            per_domain: 8,
            domains: 1
        }
    );
    // dp over stride 8 on 8-GPU nodes: one member per node.
    assert_eq!(
        place(
            Group {
                size: 64,
                stride: 8
            },
            8
        ),
        Placement {
            per_domain: 1,
            domains: 64
        }
    );
    // ep 16 at stride 2 on 8-GPU nodes: 4 per node, 4 nodes.
    assert_eq!(
        place(
            Group {
                size: 16,
                stride: 2
            },
            8
        ),
        Placement {
            per_domain: 4,
            domains: 4
        }
    );
    let p = |size, stride, domain| place(Group { size, stride }, domain);
    // A 72-wide group fills an NVL72; 36 at stride 2 too.
    assert_eq!(
        p(72, 1, 72),
        Placement {
            per_domain: 72,
            domains: 1
        }
    );
    assert_eq!(
        p(36, 2, 72),
        Placement {
            per_domain: 36,
            domains: 1
        }
    );
    // Groups that do not tile a domain (3 on 8-GPU nodes, 64 on 72) straddle a
    // boundary somewhere, and a collective waits for its slowest group.
    assert_eq!(
        p(3, 1, 8),
        Placement {
            per_domain: 2,
            domains: 2
        }
    );
    assert_eq!(
        p(64, 1, 72),
        Placement {
            per_domain: 32,
            domains: 2
        }
    );
}
