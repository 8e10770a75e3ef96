//! The node's forwarding path on the `webrtc` crate (0.21): a WHIP endpoint takes one
//! publisher, a WHEP endpoint adds listeners, and every RTP packet the publisher sends is
//! written to every listener's track, the way the crate's own broadcast example fans out
//! (a broadcast channel and a task per listener). No sign-in and no floor gate: whatever
//! this costs, the real node does more. Same routes as the node, so `assembly-loadgen
//! --no-sign-in` drives both.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{MediaEngine, MIME_TYPE_OPUS};
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use tokio::sync::{broadcast, mpsc};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState,
};
use webrtc::runtime::{default_runtime, Runtime};

#[derive(Clone)]
struct App {
    runtime: Arc<dyn Runtime>,
    packets: broadcast::Sender<rtp::Packet>,
    peers: Arc<tokio::sync::Mutex<Vec<Arc<dyn PeerConnection>>>>,
}

struct Handler {
    gathered: mpsc::Sender<()>,
    packets: Option<broadcast::Sender<rtp::Packet>>,
    runtime: Arc<dyn Runtime>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.try_send(());
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let Some(tx) = self.packets.clone() else { return };
        self.runtime.spawn(Box::pin(async move {
            while let Some(evt) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(p) = evt {
                    let _ = tx.send(p);
                }
            }
        }));
    }
}

fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

async fn peer(app: &App, publisher: bool) -> anyhow::Result<(Arc<dyn PeerConnection>, mpsc::Receiver<()>)> {
    let mut media = MediaEngine::default();
    media.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: opus(),
            payload_type: 111,
            ..Default::default()
        },
        RtpCodecKind::Audio,
    )?;
    let registry = register_default_interceptors(Registry::new(), &mut media)?;
    let (gathered, gathered_rx) = mpsc::channel(1);
    let handler = Arc::new(Handler {
        gathered,
        packets: publisher.then(|| app.packets.clone()),
        runtime: app.runtime.clone(),
    });
    let pc: Arc<dyn PeerConnection> = Arc::new(
        PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .with_handler(handler as Arc<dyn PeerConnectionEventHandler>)
            .with_runtime(app.runtime.clone())
            .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
            .build()
            .await?,
    );
    Ok((pc, gathered_rx))
}

async fn answer(pc: &Arc<dyn PeerConnection>, mut gathered: mpsc::Receiver<()>, offer: String) -> anyhow::Result<String> {
    pc.set_remote_description(RTCSessionDescription::offer(offer)?).await?;
    let answer = pc.create_answer(None).await?;
    pc.set_local_description(answer).await?;
    let _ = gathered.recv().await;
    Ok(pc
        .local_description()
        .await
        .ok_or_else(|| anyhow::anyhow!("no local description"))?
        .sdp)
}

fn created(sdp: String, n: usize) -> Response {
    (
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, "application/sdp".to_string()),
            (header::LOCATION, format!("/api/v1/media/{n}")),
        ],
        sdp,
    )
        .into_response()
}

async fn whip(State(app): State<App>, body: Bytes) -> Response {
    let run = async {
        let (pc, gathered) = peer(&app, true).await?;
        pc.add_transceiver_from_kind(
            RtpCodecKind::Audio,
            Some(RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Recvonly,
                ..Default::default()
            }),
        )
        .await?;
        let sdp = answer(&pc, gathered, String::from_utf8(body.to_vec())?).await?;
        let mut peers = app.peers.lock().await;
        peers.push(pc);
        anyhow::Ok(created(sdp, peers.len()))
    };
    run.await
        .unwrap_or_else(|e| (StatusCode::BAD_REQUEST, e.to_string()).into_response())
}

async fn whep(State(app): State<App>, body: Bytes) -> Response {
    let run = async {
        let (pc, gathered) = peer(&app, false).await?;
        let ssrc = rand::random::<u32>();
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            format!("assembly-{ssrc}"),
            format!("floor-{ssrc}"),
            format!("floor-{ssrc}"),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: opus(),
                ..Default::default()
            }],
        )));
        pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>).await?;
        let sdp = answer(&pc, gathered, String::from_utf8(body.to_vec())?).await?;
        let mut rx = app.packets.subscribe();
        app.runtime.spawn(Box::pin(async move {
            while let Ok(mut p) = rx.recv().await {
                p.header.ssrc = ssrc;
                if track.write_rtp(p).await.is_err() {
                    break;
                }
            }
        }));
        let mut peers = app.peers.lock().await;
        peers.push(pc);
        anyhow::Ok(created(sdp, peers.len()))
    };
    run.await
        .unwrap_or_else(|e| (StatusCode::BAD_REQUEST, e.to_string()).into_response())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let listen = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8790".into());
    let app = App {
        runtime: default_runtime().ok_or_else(|| anyhow::anyhow!("no runtime"))?,
        packets: broadcast::channel(1024).0,
        peers: Arc::default(),
    };
    let router = Router::new()
        .route("/api/v1/sessions/{s}/whip", post(whip))
        .route("/api/v1/sessions/{s}/whep", post(whep))
        .route("/api/v1/media/{r}", axum::routing::delete(|| async { StatusCode::OK }))
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("webrtc-rs mirror on {listen}");
    axum::serve(listener, router).await?;
    Ok(())
}
