//! How a server's flight arrived: all at once, or in bursts with silences
//! between them. A TCP window the path has cut down lets one window through
//! per round trip, so a flight larger than it comes in equal bursts a round
//! trip apart; a slow line delivers evenly, without the silences.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::observation::millis;

/// Reads closer together than this belong to one burst.
pub const BURST_GAP: Duration = Duration::from_millis(5);
/// The most reads of one flight the probe times; the rest are not kept.
pub const MAX_ARRIVALS: usize = 512;
/// Fewer bursts than this is how any flight may arrive (TCP's slow start
/// sends an initial window, then twice that).
const MIN_BURSTS: usize = 3;

/// A flight that came in several bursts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paced {
    /// Bytes of the whole flight.
    pub bytes: usize,
    /// How many bursts it came in.
    pub bursts: usize,
    /// The size of the bursts before the last, when they are all the same:
    /// the window that crossed per round trip.
    pub window: Option<usize>,
    /// The shortest silence between two bursts.
    #[serde(rename = "gap_ms", with = "millis")]
    pub gap: Duration,
}

/// The shape of a flight from its reads, each `(time, bytes)` in order:
/// `None` when it came in fewer than three bursts.
pub fn shape(reads: &[(Duration, usize)]) -> Option<Paced> {
    // Each burst: when its last read came, and its bytes.
    let mut bursts: Vec<(Duration, Duration, usize)> = Vec::new();
    for &(at, bytes) in reads {
        match bursts.last_mut() {
            Some((_, last, size)) if at.saturating_sub(*last) < BURST_GAP => {
                *last = at;
                *size = size.saturating_add(bytes);
            }
            _ => bursts.push((at, at, bytes)),
        }
    }
    if bursts.len() < MIN_BURSTS {
        return None;
    }
    let gap = bursts
        .windows(2)
        .map(|pair| pair[1].0.saturating_sub(pair[0].1))
        .min()
        .unwrap_or_default();
    let sizes: Vec<usize> = bursts.iter().map(|(_, _, size)| *size).collect();
    let (before_last, _) = sizes.split_at(sizes.len() - 1);
    let window = before_last
        .first()
        .copied()
        .filter(|first| before_last.iter().all(|size| size == first));
    Some(Paced {
        bytes: sizes.iter().sum(),
        bursts: bursts.len(),
        window,
        gap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn one_flight_at_once_has_no_shape() {
        assert_eq!(shape(&[(ms(10), 1000), (ms(10), 1600)]), None);
        assert_eq!(shape(&[]), None);
    }

    #[test]
    fn equal_bursts_a_round_trip_apart_show_the_window() {
        let reads: Vec<(Duration, usize)> = (0..10u64)
            .map(|i| (ms(100 + 100 * i), if i == 9 { 100 } else { 256 }))
            .collect();
        assert_eq!(
            shape(&reads),
            Some(Paced {
                bytes: 2404,
                bursts: 10,
                window: Some(256),
                gap: ms(100),
            })
        );
    }

    #[test]
    fn reads_close_together_are_one_burst() {
        let reads = [
            (ms(0), 100),
            (ms(1), 156),
            (ms(100), 200),
            (ms(102), 56),
            (ms(200), 256),
            (ms(300), 10),
        ];
        let paced = shape(&reads).unwrap();
        assert_eq!((paced.bursts, paced.window), (4, Some(256)));
        assert_eq!(paced.gap, ms(98));
    }

    #[test]
    fn unequal_bursts_name_no_window() {
        let reads = [(ms(0), 100), (ms(50), 300), (ms(100), 20), (ms(150), 5)];
        assert_eq!(shape(&reads).unwrap().window, None);
    }
}
