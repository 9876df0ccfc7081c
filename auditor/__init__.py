"""auditor: audits the conversion setup of GA4 properties and Google Ads accounts."""

__version__ = "0.1.0"
