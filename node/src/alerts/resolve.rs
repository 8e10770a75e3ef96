//! Name resolution for webhook deliveries that never connects to a private address: the
//! target check at registration sees only the URL, and a public name may resolve (or be
//! re-pointed later, DNS rebinding) to this machine or an internal network. Checking the
//! addresses at connect time, in the resolver the HTTP client uses, closes both.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Resolves with the system's resolver, keeping only public addresses.
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all
                .into_iter()
                .filter(|a| !super::private(&a.ip().to_string()))
                .collect();
            if public.is_empty() {
                return Err(format!("{host} resolves only to local or private addresses").into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_for_this_machine_is_refused() {
        let name: Name = "localhost".parse().unwrap();
        let e = PublicOnly.resolve(name).await.err().expect("refused");
        assert!(e.to_string().contains("private"), "{e}");
    }
}
