//! A real browser for the console tests: Debian's headless `chromium`, driven through its
//! `chromedriver` over WebDriver (fantoccini). A failed check keeps a screenshot and the
//! page's HTML in `target/test-output/console/{test}/` before the test fails.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

pub struct Browser {
    pub client: Client,
    driver: Child,
    base: String,
    out: PathBuf,
    _profile: tempfile::TempDir,
}

/// `chromedriver`, from `VENUE_CHROMEDRIVER` or the path.
fn driver_binary() -> String {
    std::env::var("VENUE_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into())
}

impl Browser {
    /// A fresh browser (its own profile: no cookies) for the console at `http_addr`.
    pub async fn start(test: &str, http_addr: &str) -> Browser {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().unwrap().port()
        };
        let driver = Command::new(driver_binary())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e}; the console tests need Debian's chromium and \
                     chromium-driver (apt-get install chromium chromium-driver; .ci/run does)",
                    driver_binary()
                )
            });
        let profile = tempfile::tempdir().expect("a browser profile folder");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-extensions",
                    "--no-first-run",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut last = String::new();
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    let out = venue_tests::target_dir()
                        .join("test-output/console")
                        .join(test);
                    let _ = std::fs::remove_dir_all(&out);
                    return Browser {
                        client,
                        driver,
                        base: format!("http://{http_addr}"),
                        out,
                        _profile: profile,
                    };
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver on port {port} did not start a browser: {last}");
    }

    /// Opens a console path (`/today`).
    pub async fn open(&self, path: &str) {
        if let Err(e) = self.client.goto(&format!("{}{path}", self.base)).await {
            self.fail(&format!("cannot open {path}: {e}")).await;
        }
    }

    /// The path of the page shown.
    pub async fn path(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => url.path().to_owned(),
            Err(e) => self.fail(&format!("no current URL: {e}")).await,
        }
    }

    /// Signs in through the form.
    pub async fn sign_in(&self, username: &str, password: &str) {
        self.open("/signin").await;
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.click("#submit").await;
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        let _ = el.clear().await;
        if let Err(e) = el.send_keys(text).await {
            self.fail(&format!("cannot type into {css}: {e}")).await;
        }
    }

    /// Chooses an option of a `<select>` by its value.
    pub async fn select(&self, css: &str, value: &str) {
        let el = self.find(css).await;
        if let Err(e) = el.select_by_value(value).await {
            self.fail(&format!("cannot choose {value:?} in {css}: {e}"))
                .await;
        }
    }

    /// Clicks a link or a submit button and waits for the next page (the old one's root
    /// element goes stale), so that what is read next is of the new page.
    pub async fn click(&self, css: &str) {
        let el = self.find(css).await;
        let old_root = self.find("html").await;
        if let Err(e) = el.click().await {
            self.fail(&format!("cannot click {css}: {e}")).await;
        }
        for _ in 0..100 {
            if old_root.tag_name().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.fail(&format!("clicking {css} led to no new page"))
            .await;
    }

    /// The element `css` selects, waiting up to 5 s for it.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(5))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(el) => el,
            Err(e) => self.fail(&format!("no {css} on the page: {e}")).await,
        }
    }

    /// Whether the page has an element `css` now.
    pub async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    /// The text of the element `css`, trimmed.
    pub async fn text(&self, css: &str) -> String {
        let el = self.find(css).await;
        match el.text().await {
            Ok(t) => t.trim().to_owned(),
            Err(e) => self.fail(&format!("no text in {css}: {e}")).await,
        }
    }

    /// The page's HTML.
    pub async fn html(&self) -> String {
        self.client.source().await.unwrap_or_default()
    }

    /// Fails the test when `ok` is false, keeping the evidence first.
    pub async fn check(&self, ok: bool, what: &str) {
        if !ok {
            self.fail(what).await;
        }
    }

    /// Keeps a screenshot and the page's HTML, then fails the test with `what`.
    pub async fn fail(&self, what: &str) -> ! {
        let _ = std::fs::create_dir_all(&self.out);
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(self.out.join("screenshot.png"), png);
        }
        let _ = std::fs::write(self.out.join("page.html"), self.html().await);
        panic!(
            "{what}\n(the page's screenshot and HTML are in {})",
            self.out.display()
        );
    }

    /// Keeps a screenshot of the page as `name` in the test's output folder (the README's
    /// picture of the Today page comes from here).
    pub async fn keep_screenshot(&self, name: &str) {
        let _ = std::fs::create_dir_all(&self.out);
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(self.out.join(name), png);
        }
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
