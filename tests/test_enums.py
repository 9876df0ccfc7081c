"""The enum names the offline path knows match the installed Google client libraries."""

from __future__ import annotations

import importlib

import pytest

from auditor import enums


def _names(enum_cls) -> set[str]:
    return {m.name for m in enum_cls}


def _ads_enum(module: str, cls: str):
    from auditor.connectors.ads import API_VERSION

    mod = importlib.import_module(f"google.ads.googleads.{API_VERSION}.enums.types.{module}")
    return getattr(getattr(mod, cls), cls.removesuffix("Enum"))


@pytest.mark.parametrize("ours, module, cls", [
    (enums.ACTION_STATUS, "conversion_action_status", "ConversionActionStatusEnum"),
    (enums.ACTION_CATEGORY, "conversion_action_category", "ConversionActionCategoryEnum"),
    (enums.ACTION_TYPE, "conversion_action_type", "ConversionActionTypeEnum"),
    (enums.ACTION_ORIGIN, "conversion_origin", "ConversionOriginEnum"),
    (enums.COUNTING_TYPE, "conversion_action_counting_type", "ConversionActionCountingTypeEnum"),
    (enums.ATTRIBUTION_MODEL, "attribution_model", "AttributionModelEnum"),
    (enums.DATA_DRIVEN_STATUS, "data_driven_model_status", "DataDrivenModelStatusEnum"),
])
def test_ads_enums_match_library(ours, module, cls):
    assert ours == _names(_ads_enum(module, cls))


def test_ga4_enums_match_library():
    from google.analytics.admin_v1beta.types import DataRetentionSettings, KeyEvent

    assert enums.COUNTING_METHOD == _names(KeyEvent.CountingMethod)
    assert enums.RETENTION == _names(DataRetentionSettings.RetentionDuration)


@pytest.mark.parametrize("group", ["APP_INSTALL_TYPES", "APP_PURCHASE_TYPES", "UPLOAD_TYPES", "QUALIFIED_LEAD_TYPES",
                                   "CALL_TYPES", "WEB_TAG_TYPES", "SYSTEM_MANAGED_TYPES"])
def test_type_groups_name_real_action_types(group):
    """The groups that say what an action's type counts name only types the installed library has."""
    real = _names(_ads_enum("conversion_action_type", "ConversionActionTypeEnum"))
    assert getattr(enums, group) <= real


@pytest.mark.parametrize("group", ["QUALIFIED_LEAD_CATEGORIES", "LEAD_CATEGORIES", "RAW_WEB_LEAD_CATEGORIES"])
def test_category_groups_name_real_categories(group):
    real = _names(_ads_enum("conversion_action_category", "ConversionActionCategoryEnum"))
    assert getattr(enums, group) <= real


def test_app_type_prefixes_cover_every_app_type():
    real = _names(_ads_enum("conversion_action_type", "ConversionActionTypeEnum"))
    app = {t for t in real if t.startswith(enums.APP_TYPE_PREFIXES)}
    assert enums.APP_INSTALL_TYPES | enums.APP_PURCHASE_TYPES <= app
    assert "ANDROID_INSTALLS_ALL_OTHER_APPS" in app and "FIREBASE_IOS_CUSTOM" in app
