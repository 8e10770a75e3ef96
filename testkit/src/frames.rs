//! A publisher's audio, as a steady stream of packets every 20 ms (one Opus frame's worth).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::Sender;
use tokio::task::JoinHandle;

/// Sends `packets` in a loop, one every 20 ms, until the channel closes.
pub fn pump_packets(frames: Sender<Arc<[u8]>>, packets: Vec<Arc<[u8]>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for packet in packets.iter().cycle() {
            tick.tick().await;
            if frames.send(packet.clone()).await.is_err() {
                return;
            }
        }
    })
}

/// Sends stamped frames (see `assembly_media::stamp::stamped_frame`) marked `marker` at byte 16,
/// one every 20 ms, until the channel closes.
pub fn pump_stamped(frames: Sender<Arc<[u8]>>, marker: u8) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for n in 0u64.. {
            tick.tick().await;
            let mut f = assembly_media::stamp::stamped_frame(n, 80).to_vec();
            f[16] = marker;
            if frames.send(f.into()).await.is_err() {
                return;
            }
        }
    })
}
