<?xml version="1.0" encoding="utf-8"?>
<!-- Shows the podcast feed as a page when someone opens feed.xml in a browser.
     Podcast apps ignore it and read the RSS as it is. -->
<xsl:stylesheet version="1.0"
  xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
  xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
  xmlns:atom="http://www.w3.org/2005/Atom"
  exclude-result-prefixes="itunes atom">
  <xsl:output method="html" encoding="utf-8" indent="yes" doctype-system="about:legacy-compat"/>
  <xsl:template match="/rss/channel">
    <html lang="{language}">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="title"/> · podcast feed</title>
        <link rel="stylesheet" href="site.css"/>
      </head>
      <body class="index feed">
        <header class="show">
          <img class="cover" src="{itunes:image/@href}" width="240" height="240" alt="Cover art"/>
          <div>
            <h1><xsl:value-of select="title"/></h1>
            <p class="author">by <xsl:value-of select="itunes:author"/></p>
            <p class="description"><xsl:value-of select="description"/></p>
          </div>
        </header>
        <main>
          <section class="subscribe">
            <h2>This is a podcast feed</h2>
            <p>Copy its address into a podcast app to subscribe, or visit
              <a href="{link}">the show's page</a>.</p>
            <div class="copy">
              <input id="feed-url" type="url" readonly="readonly" aria-label="Feed address"
                value="{atom:link[@rel='self']/@href}"/>
            </div>
          </section>
          <h2>Episodes</h2>
          <ol class="episodes">
            <xsl:for-each select="item">
              <li>
                <div>
                  <h3><span class="number"><xsl:value-of select="itunes:episode"/>.</span>
                    <xsl:text> </xsl:text><a href="{link}"><xsl:value-of select="title"/></a></h3>
                  <p class="meta"><xsl:value-of select="substring(pubDate, 6, 11)"/> ·
                    <xsl:value-of select="floor(itunes:duration div 60)"/> min</p>
                  <p><xsl:value-of select="description"/></p>
                  <audio controls="controls" preload="none" src="{enclosure/@url}"></audio>
                </div>
              </li>
            </xsl:for-each>
          </ol>
        </main>
      </body>
    </html>
  </xsl:template>
</xsl:stylesheet>
