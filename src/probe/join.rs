//! Running a list of futures at once on the current task.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// Polls every future until all are done; their outputs, in order. Each is
/// polled only while it is pending, so a finished one is never polled again.
pub async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn outputs_come_in_order_and_waits_overlap() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let start = tokio::time::Instant::now();
            let waits = [3u64, 1, 2].map(|s| async move {
                tokio::time::sleep(Duration::from_secs(s)).await;
                s
            });
            assert_eq!(join_all(waits.into()).await, vec![3, 1, 2]);
            assert_eq!(start.elapsed(), Duration::from_secs(3));
        });
    }
}
