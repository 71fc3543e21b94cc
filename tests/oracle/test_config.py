from __future__ import annotations

from pathlib import Path

import pytest

from oracle.config import example_toml, load_secrets, load_settings
from oracle.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_example_file_documents_every_key_with_its_default() -> None:
    assert (ROOT / "oracle.example.toml").read_text() == example_toml()
    assert load_settings(ROOT / "oracle.example.toml").model_dump() == load_settings().model_dump()


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "oracle.toml"
    cfg.write_text('database_url = "sqlite:///x.db"\n[chain]\nconfirmations = 2\n')
    settings = load_settings(cfg)
    assert settings.database_url == "sqlite:///x.db" and settings.chain.confirmations == 2
    monkeypatch.setenv("ORACLE_CHAIN__CONFIRMATIONS", "9")
    monkeypatch.setenv("ORACLE_DATABASE_URL", "postgresql://u@127.0.0.1/db")
    settings = load_settings(cfg)
    assert settings.chain.confirmations == 9
    assert settings.database_url == "postgresql://u@127.0.0.1/db"
    assert load_settings(cfg, database_url="sqlite:///cli.db").database_url == "sqlite:///cli.db"


@pytest.mark.parametrize(("body", "needle"), [
    ("[chain]\nconfirmatons = 2\n", "unknown setting 'chain.confirmatons'"),
    ("nonsense = 1\n", "unknown setting 'nonsense'"),
    ("[chain]\nconfirmations = -1\n", "'chain.confirmations' = -1"),
    ('[pricing]\nrule = "vickrey"\n', "'pricing.rule' = 'vickrey'"),
    ('database_url = "mysql://x"\n', "'database_url' = 'mysql://x'"),
    ("[chain\nconfirmations = 2\n", "not valid TOML"),
    ("[models]\nsite_latitude = 95\n", "'models.site_latitude' = 95"),
    ("[models]\nsite_latitude = 51.5\n", "site_longitude is missing"),
])
def test_bad_config_names_key_and_value(tmp_path: Path, body: str, needle: str) -> None:
    cfg = tmp_path / "oracle.toml"
    cfg.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    assert needle in str(info.value)
    assert info.value.exit_code == 2


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_secrets_from_env_or_files_are_never_printed(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORACLE_KEYSTORE_PASSWORD", "hunter2")
    secrets = load_secrets(load_settings())
    assert secrets.keystore_password is not None
    assert secrets.keystore_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(secrets) and "hunter2" not in str(secrets)
    monkeypatch.delenv("ORACLE_KEYSTORE_PASSWORD")
    (tmp_path / "backend_token").write_text("tok-123")
    secrets = load_secrets(load_settings(secrets_dir=tmp_path))
    assert secrets.backend_token is not None
    assert secrets.backend_token.get_secret_value() == "tok-123"
    with pytest.raises(ConfigError, match="not a directory"):
        load_secrets(load_settings(secrets_dir=tmp_path / "missing"))


@pytest.mark.parametrize("section", [
    {"backend": {"url": "http://oracle:p@ss-word9@127.0.0.1:8600/"}},
    {"weather": {"url": "http://oracle:p@ss-word9@127.0.0.1:8600/"}},
    {"chain": {"rpc_urls": ["http://oracle:p@ss-word9@127.0.0.1:8545/"]}},
    {"database_url": "postgresql://oracle:p@ss-word9@127.0.0.1/test"},
])
def test_a_raw_at_sign_in_a_url_password_is_refused_without_showing_it(
        section: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**section)
    message = str(caught.value)
    assert "write it as %40" in message
    assert "ss-word9" not in message and "p@ss" not in message
    key = next(iter(section))
    assert key in message


def test_a_percent_encoded_url_password_is_accepted_and_masked_afterwards() -> None:
    from oracle.redact import redact

    settings = load_settings(backend={"url": "http://oracle:p%40ss-w0rd@127.0.0.1:8600/"})
    assert settings.backend.url.endswith("127.0.0.1:8600/")
    assert "p@ss-w0rd" not in redact("server said: bad password p@ss-w0rd")


def test_every_setting_is_described() -> None:
    """oracle.example.toml carries each key's description: none may be missing."""
    from pydantic import BaseModel

    from oracle.config import Settings

    def undescribed(model: type[BaseModel], prefix: str = "") -> list[str]:
        out = []
        for name, info in model.model_fields.items():
            kind = info.annotation
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                out += undescribed(kind, f"{prefix}{name}.")
            elif not info.description:
                out.append(prefix + name)
        return out

    assert undescribed(Settings) == []
