//! `mailprobe serve`: a scenario's world on loopback, for real mail clients.
//!
//! Every server port of the world gets a port on 127.0.0.1. A connection to
//! it enters the simulated network as the scenario's client would, so the
//! firewall layers and middleboxes apply: a real client behind a served
//! OP25B world sees its port 25 connection hang. Time is real here, not
//! virtual. Only loopback is ever bound.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use mock_mail_servers::listen::{accept_forever, AcceptTrouble};

use crate::harness::world::{self, BuildError, BuiltWorld};
use crate::net::sim::PortFate;
use crate::net::Network;
use crate::scenario::model::World;

/// How long a served connection waits for the simulated path to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);

/// One served port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The world's host.
    pub host: String,
    /// The world's port.
    pub port: u16,
    /// `smtp`, `pop3` or `web`; `path` for a port only the network shows
    /// (a drop, a reset, a middlebox).
    pub service: &'static str,
    /// `plain`, `starttls` or `tls`; for `path`: `drop`, `reset` or `relay`.
    pub mode: &'static str,
    /// Where a real client connects.
    pub local: SocketAddr,
}

/// Why a world could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The world could not be built.
    #[error("cannot build the world: {0}")]
    World(#[from] BuildError),
    /// A loopback port could not be bound.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for (0: any).
        port: u16,
        /// Why.
        source: std::io::Error,
    },
}

/// A world listening on loopback.
pub struct ServedWorld {
    /// The built world.
    pub world: BuiltWorld,
    /// Every served port.
    pub mappings: Vec<Mapping>,
    listeners: Vec<(TcpListener, IpAddr, u16, PortFate)>,
}

/// The mail ports every host of a served world is looked at on, besides
/// its own server ports: what a probe's follow-ups try.
const MAIL_PORTS: [u16; 7] = [25, 110, 143, 465, 587, 993, 995];

/// Builds `world` and binds a loopback port for each of its server ports:
/// `base_port + i` for the i-th, or ephemeral ports when `base_port` is 0.
/// Must run inside a tokio runtime with I/O and time enabled.
pub async fn bind(
    world_spec: &World,
    clock: time::OffsetDateTime,
    base_port: u16,
    root: &world::Root,
) -> Result<ServedWorld, ServeError> {
    let world = world::build_with_root(world_spec, clock, root)?;
    // Every server port; then every other host:port a probe may try that a
    // real socket can show as more than a refusal (a drop, a reset, a
    // middlebox): refused ones are simply not bound.
    let mut wanted: Vec<(String, u16, &'static str, &'static str, PortFate)> = world
        .ports
        .iter()
        .map(|p| {
            (
                p.host.clone(),
                p.port,
                p.service,
                p.mode.name(),
                PortFate::Relay,
            )
        })
        .collect();
    let mut ports: Vec<u16> = world.ports.iter().map(|p| p.port).collect();
    ports.extend(MAIL_PORTS);
    ports.sort_unstable();
    ports.dedup();
    for host in world.network.host_names() {
        for port in &ports {
            if wanted.iter().any(|(h, p, ..)| *h == host && p == port) {
                continue;
            }
            let fate = world.network.fate(&host, *port);
            let mode = match fate {
                PortFate::Refused => continue,
                PortFate::Silent => "drop",
                PortFate::Reset => "reset",
                PortFate::Relay => "relay",
            };
            wanted.push((host.clone(), *port, "path", mode, fate));
        }
    }
    let mut mappings = Vec::new();
    let mut listeners = Vec::new();
    for (index, (host, port, service, mode, fate)) in wanted.into_iter().enumerate() {
        let asked = if base_port == 0 {
            0
        } else {
            base_port.saturating_add(u16::try_from(index).unwrap_or(u16::MAX))
        };
        let failed = |source| ServeError::Bind {
            port: asked,
            source,
        };
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, asked))
            .await
            .map_err(failed)?;
        let local = listener.local_addr().map_err(failed)?;
        let address = world
            .network
            .address_of(&host)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        listeners.push((listener, address, port, fate));
        mappings.push(Mapping {
            host,
            port,
            service,
            mode,
            local,
        });
    }
    // Names the world's DNS gives to another host reach that host's ports.
    for (name, target) in world_spec.dns.iter().filter(|(name, _)| *name != "*") {
        let aliased: Vec<Mapping> = mappings
            .iter()
            .filter(|m| m.host.eq_ignore_ascii_case(target))
            .map(|m| Mapping {
                host: name.to_ascii_lowercase(),
                ..m.clone()
            })
            .collect();
        mappings.extend(aliased);
    }
    Ok(ServedWorld {
        world,
        mappings,
        listeners,
    })
}

impl ServedWorld {
    /// Relays connections into the simulated network until `stop` completes.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        let network = Arc::new(self.world.network.clone());
        let mut tasks = tokio::task::JoinSet::new();
        for (listener, address, port, fate) in self.listeners {
            let network = network.clone();
            let target = SocketAddr::new(address, port);
            tasks.spawn(accept_loop(listener, network, target, fate));
        }
        stop.await;
        tasks.abort_all();
    }
}

/// Accepts connections for ever and sends each where its fate says.
async fn accept_loop(
    listener: TcpListener,
    network: Arc<crate::net::sim::SimNetwork>,
    target: SocketAddr,
    fate: PortFate,
) {
    let accepted = |client: tokio::net::TcpStream| match fate {
        PortFate::Relay | PortFate::Refused => {
            tokio::spawn(relay(client, network.clone(), target));
        }
        PortFate::Reset => {
            // An RST: close with a zero linger.
            let _ = client.set_zero_linger();
            drop(client);
        }
        PortFate::Silent => {
            tokio::spawn(hold_silently(client));
        }
    };
    let trouble = |trouble: AcceptTrouble<'_>| match trouble {
        AcceptTrouble::Failing(error) => {
            eprintln!("mailprobe serve: cannot accept a connection for {target}: {error}; retrying")
        }
        AcceptTrouble::Recovered => eprintln!("mailprobe serve: accepting on {target} again"),
    };
    accept_forever(&listener, accepted, trouble).await;
}

/// Keeps a connection open and says nothing, until the client leaves or
/// the connect timeout a dropping firewall would have cost has passed.
async fn hold_silently(mut client: tokio::net::TcpStream) {
    use tokio::io::AsyncReadExt;
    let mut sink = [0u8; 1024];
    let reading = async { while matches!(client.read(&mut sink).await, Ok(1..)) {} };
    let _ = tokio::time::timeout(CONNECT_TIMEOUT, reading).await;
}

/// Carries one client's connection through the simulated network. It ends
/// when the served side closes (the mock servers close idle and slow
/// clients), whatever the client does.
async fn relay(
    client: tokio::net::TcpStream,
    network: Arc<crate::net::sim::SimNetwork>,
    target: SocketAddr,
) {
    // Nothing on the way: the server itself answers on the socket.
    let _ = client.set_nodelay(true);
    let client = match network.serve_directly(target, Box::new(client)) {
        Ok(serving) => return serving.await,
        Err(client) => client,
    };
    let connect = network.connect(target);
    let Ok(Ok(served)) = tokio::time::timeout(CONNECT_TIMEOUT, connect).await else {
        return;
    };
    let (mut from_client, mut to_client) = tokio::io::split(client);
    let (mut from_server, mut to_server) = tokio::io::split(served);
    let upstream = async {
        let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
        let _ = to_server.shutdown().await;
        // The client is done sending; the server may still answer.
        std::future::pending::<()>().await
    };
    let downstream = async {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
        let _ = to_client.shutdown().await;
    };
    tokio::select! {
        biased;
        () = downstream => {}
        () = upstream => {}
    }
}
