//! Uploads and signed downloads.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::{App, bounded, multipart, tiny_png};
use crate::support::{NOT_FOUND, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_png_upload_downloads_by_its_signed_link_as_an_attachment() {
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let bob = app.user("bob@example.com").await;
        let project = app.project(&alice, "alice's").await;
        let png = tiny_png();

        // The client's name is display metadata only, stripped of any path.
        let uploaded = app
            .upload(
                &alice,
                project,
                "../../etc/holiday photo.png",
                "image/png",
                &png,
            )
            .await;
        uploaded.expect_status(201);
        let id = uploaded.json()["id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 32);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        uploaded.expect(
            201,
            &format!(
                r#"{{"id":"{id}","display_name":"holiday photo.png","kind":"png","size":{}}}"#,
                png.len()
            ),
        );
        // Stored under the server's id, nowhere else.
        assert_eq!(app.upload_dir_entries(), [id.clone(), format!("{id}.json")]);
        assert!(!app.dir().join("etc").exists());

        let link_path = format!("/api/projects/{project}/files/{id}");
        let link = app.get(&link_path, Some(&alice.cookie)).await;
        link.expect_status(200);
        let url = link.json()["url"].as_str().unwrap().to_owned();
        let expires_at = link.json()["expires_at"].as_u64().unwrap();
        assert_eq!(
            link.text(),
            format!(r#"{{"expires_at":{expires_at},"url":"{url}"}}"#)
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(
            (now + 290..=now + 310).contains(&expires_at),
            "{expires_at} vs {now}"
        );
        let token = url.strip_prefix("/files/").unwrap().to_owned();

        // The link works without a session, and serves the bytes as sniffed.
        let download = app.get(&url, None).await;
        download.expect_status(200);
        assert_eq!(download.body, png);
        assert_eq!(download.header("content-type"), Some("image/png"));
        assert_eq!(download.header("x-content-type-options"), Some("nosniff"));
        let disposition = download.header("content-disposition").unwrap();
        assert!(disposition.starts_with("attachment"), "{disposition}");
        assert!(disposition.contains("holiday photo.png"), "{disposition}");
        assert_eq!(download.header("cache-control"), Some("private, no-store"));

        // A tampered, truncated or extended token is the same 404 as a
        // token for nothing.
        let mut tampered = token.clone().into_bytes();
        let middle = tampered.len() / 2;
        tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        let refused = app.get(&format!("/files/{tampered}"), None).await;
        refused.expect(404, NOT_FOUND);
        for bad in [
            token[..token.len() - 1].to_owned(),
            format!("{token}A"),
            "A".repeat(token.len()),
            "not-a-token".to_owned(),
        ] {
            let reply = app.get(&format!("/files/{bad}"), None).await;
            assert_eq!(reply.fingerprint(), refused.fingerprint(), "/files/{bad}");
        }

        // Bob cannot get a link to Alice's file.
        app.get(&link_path, Some(&bob.cookie))
            .await
            .expect(404, NOT_FOUND);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_with_spoofed_types_are_415_and_nothing_is_kept() {
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let project = app.project(&alice, "alice's").await;
        let mut png_then_script = tiny_png();
        png_then_script.extend_from_slice(b"<script>alert(document.cookie)</script>");
        let cases: [(&str, &str, Vec<u8>); 7] = [
            (
                "photo.png",
                "image/png",
                b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>".to_vec(),
            ),
            (
                "shell.php.png",
                "image/png",
                b"<?php system($_GET['c']); ?>".to_vec(),
            ),
            (
                "anim.gif",
                "image/gif",
                b"GIF89a\x01\x00\x01\x00\x00\x00\x00<script>alert(1)</script>".to_vec(),
            ),
            (
                "logo.svg",
                "image/svg+xml",
                br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#
                    .to_vec(),
            ),
            ("empty.png", "image/png", Vec::new()),
            ("polyglot.png", "image/png", png_then_script),
            (
                "script.pdf",
                "application/pdf",
                b"<script>alert(1)</script>%PDF-1.4".to_vec(),
            ),
        ];
        for (name, content_type, bytes) in cases {
            let reply = app
                .upload(&alice, project, name, content_type, &bytes)
                .await;
            assert_eq!(
                (reply.status, reply.text()),
                (415, UNSUPPORTED_MEDIA_TYPE),
                "{name}"
            );
            assert_eq!(app.upload_dir_entries(), Vec::<String>::new(), "{name}");
        }
        // A JSON body to the upload route is not an upload.
        app.post_json(
            &format!("/api/projects/{project}/files"),
            Some(&alice.cookie),
            r#"{"file":"iVBORw0KGgo="}"#,
        )
        .await
        .expect(415, UNSUPPORTED_MEDIA_TYPE);
        assert!(app.upload_dir_entries().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_5_mib_is_413_and_exactly_5_mib_is_accepted() {
    bounded(async {
        const CAP: usize = 5 * 1024 * 1024;
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let project = app.project(&alice, "alice's").await;
        let mut big = tiny_png();
        big.resize(CAP + 1, 0);
        let (form_type, form) = multipart("big.png", "image/png", &big);
        let target = format!("/api/projects/{project}/files");
        // With a length (under the multipart envelope, so the cap is
        // enforced while streaming) and chunked.
        for chunked in [false, true] {
            app.send_raw(
                "POST",
                &target,
                Some(&alice.cookie),
                &form_type,
                &form,
                chunked,
            )
            .await
            .expect(413, PAYLOAD_TOO_LARGE);
            assert!(app.upload_dir_entries().is_empty());
        }
        // Far over: refused by the declared length alone.
        let (_, huge) = multipart("huge.png", "image/png", &vec![0_u8; 3 * CAP]);
        app.send_raw(
            "POST",
            &target,
            Some(&alice.cookie),
            &form_type,
            &huge,
            false,
        )
        .await
        .expect(413, PAYLOAD_TOO_LARGE);
        assert!(app.upload_dir_entries().is_empty());

        big.truncate(CAP);
        let accepted = app
            .upload(&alice, project, "edge.png", "image/png", &big)
            .await;
        accepted.expect_status(201);
        assert_eq!(accepted.json()["size"], CAP);
        assert_eq!(app.upload_dir_entries().len(), 2);
    })
    .await;
}

/// Deleting a project must delete its stored objects, so that a link issued
/// before the delete stops working and no orphan stays on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_project_deletes_its_files_and_their_links() {
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let project = app.project(&alice, "alice's").await;
        let uploaded = app
            .upload(&alice, project, "a.png", "image/png", &tiny_png())
            .await;
        uploaded.expect_status(201);
        let id = uploaded.json()["id"].as_str().unwrap().to_owned();
        let link = app
            .get(
                &format!("/api/projects/{project}/files/{id}"),
                Some(&alice.cookie),
            )
            .await;
        let url = link.json()["url"].as_str().unwrap().to_owned();
        app.get(&url, None).await.expect_status(200);

        app.delete(&format!("/api/projects/{project}"), Some(&alice.cookie))
            .await
            .expect(204, "");
        app.get(&url, None).await.expect(404, NOT_FOUND);
        assert!(
            app.upload_dir_entries().is_empty(),
            "{:?}",
            app.upload_dir_entries()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_whose_project_is_deleted_while_it_streams_is_404_and_keeps_nothing() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let project = app.project(&alice, "alice's").await;
        let (content_type, body) = multipart("a.png", "image/png", &tiny_png());
        let head = format!(
            "POST /api/projects/{project}/files HTTP/1.1\r\nHost: {addr}\r\n\
             Origin: http://{addr}\r\nCookie: {cookie}\r\nContent-Type: {content_type}\r\n\
             Content-Length: {len}\r\nConnection: close\r\n\r\n",
            addr = app.addr,
            cookie = alice.cookie,
            len = body.len(),
        );
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        let (first, rest) = body.split_at(body.len() / 2);
        stream.write_all(first).await.unwrap();
        // The project is looked up (owner-scoped) before the body is read;
        // it goes while the body is still arriving.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        app.delete(&format!("/api/projects/{project}"), Some(&alice.cookie))
            .await
            .expect(204, "");
        stream.write_all(rest).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8(answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");
        assert!(
            answer.ends_with(&format!("\r\n\r\n{NOT_FOUND}")),
            "{answer}"
        );
        // The uncommitted upload is deleted as the request's task drops it.
        let left = app.upload_dir_settled(&[]).await;
        assert!(left.is_empty(), "{left:?}");
    })
    .await;
}
